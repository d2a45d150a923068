/* mdargy: LAMMPS pair style `mtp` (Moment Tensor Potential), loaded as a plugin.
 *
 *   pair_style mtp FILE.mtp [species El1 El2 ...]   (optional: the species in training order)
 *   pair_coeff * * El1 El2 ...                      (one element name per atom type)
 *
 * Neighbour scheme: a full neighbour list; each local atom i owns its site energy E_i and
 * applies dE_i/dr_ij to itself and to its neighbours j (local or ghost); ghost forces are
 * summed back to their owners by LAMMPS's reverse communication, which requires
 * `newton_pair on` (checked). Per-atom virials are tallied on the neighbour j,
 * W_j += -r_ij (x) dE_i/dr_ij (r_ij = x_j - x_i), which is the heat-flux-correct centroid
 * form for site-energy potentials (Fan et al., PRB 92, 094301 (2015)); the global virial
 * comes from f.r (vflag_fdotr) or, when LAMMPS asks for it explicitly, from the same sums. */
#ifndef MDARGY_PAIR_MTP_H
#define MDARGY_PAIR_MTP_H

#include "pair.h"

#include "mtp_model.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class PairMTP : public Pair {
 public:
  PairMTP(class LAMMPS *);
  ~PairMTP() override;
  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  double memory_usage() override;

 protected:
  mdargy_mtp::Model model;
  mdargy_mtp::Workspace ws;
  std::string filename;
  bool loaded = false;
  std::vector<int> type2species;  // index: LAMMPS type (1..ntypes); -1 = unmapped
  std::vector<int> jidx;          // per neighbour: LAMMPS atom index
  void allocate();
};

}  // namespace LAMMPS_NS

#endif
