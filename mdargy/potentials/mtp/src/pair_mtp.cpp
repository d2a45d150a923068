/* mdargy: LAMMPS pair style `mtp` (see pair_mtp.h). */
#include "pair_mtp.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace LAMMPS_NS;

PairMTP::PairMTP(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  centroidstressflag = CENTROID_AVAIL;
}

PairMTP::~PairMTP()
{
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairMTP::allocate()
{
  allocated = 1;
  int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) setflag[i][j] = 0;
}

/* pair_style mtp FILE.mtp : rank 0 reads the file, every rank parses the same text so that a
   bad file stops all ranks together with the same message. */
void PairMTP::settings(int narg, char **arg)
{
  if (narg < 1 || (narg > 1 && (narg < 3 || strcmp(arg[1], "species") != 0)))
    error->all(FLERR, "{}", "Illegal pair_style mtp command: expected `pair_style mtp FILE.mtp [species El1 El2 ...]`");
  filename = arg[0];
  std::string text;
  long long size = 0;
  if (comm->me == 0) {
    std::ifstream in(filename, std::ios::binary);
    if (!in) {
      size = -1;
    } else {
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
      size = (long long) text.size();
      if (size > (1LL << 30)) size = -2;
    }
  }
  MPI_Bcast(&size, 1, MPI_LONG_LONG, 0, world);
  if (size == -1) error->all(FLERR, "{}", "pair_style mtp: cannot open MTP file " + filename + ": " + std::strerror(errno));
  if (size == -2) error->all(FLERR, "{}", "pair_style mtp: MTP file " + filename + " is larger than 1 GiB");
  text.resize((size_t) size);
  if (size > 0) MPI_Bcast(&text[0], (int) size, MPI_CHAR, 0, world);
  try {
    model.parse(text);
  } catch (mdargy_mtp::ParseError &e) {
    std::string where = e.line > 0 ? filename + ":" + std::to_string(e.line) : filename;
    error->all(FLERR, "{}", "pair_style mtp: " + where + ": " + e.what());
  }
  if (narg > 1) {  // species declared on the command line, in training order
    if (narg - 2 != model.species_count)
      error->all(FLERR, "{}", "pair_style mtp: species count does not match: " + std::to_string(narg - 2) +
                                  " species named after `species` but " + filename + " has species_count = " +
                                  std::to_string(model.species_count));
    model.elements.clear();
    for (int k = 2; k < narg; ++k) model.elements.emplace_back(arg[k]);
  }
  loaded = true;
  ws = mdargy_mtp::Workspace();  // sizes depend on the model
  type2species.clear();
  if (allocated)  // a new potential needs a new pair_coeff
    for (int i = 0; i <= atom->ntypes; ++i)
      for (int j = 0; j <= atom->ntypes; ++j) setflag[i][j] = 0;
  if (comm->me == 0)
    utils::logmesg(lmp, "pair_style mtp: {} (species {}, radial basis {} x {}, {} moments, {} basis functions, cutoff {})\n",
                   filename, model.species_count, model.rf_count, model.rb_size, model.moments_count, model.scalar_count,
                   model.rmax);
}

/* pair_coeff * * El1 ... ElN (one name per atom type). With element names declared in the
   file (potential_tag = species: A B C) each name must be one of them; otherwise the distinct
   names, in order of first appearance, are the potential's species in training order. */
void PairMTP::coeff(int narg, char **arg)
{
  if (!loaded) error->all(FLERR, "{}", "pair_coeff for pair_style mtp before pair_style mtp FILE.mtp");
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg != 2 + ntypes)
    error->all(FLERR, "{}", "pair_coeff for pair_style mtp: expected `pair_coeff * * El1 ... El" + std::to_string(ntypes) +
                                "` (one element name for each of the " + std::to_string(ntypes) + " atom types), got " +
                                std::to_string(narg - 2 < 0 ? 0 : narg - 2) + " names");
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "{}", "pair_coeff for pair_style mtp must be `pair_coeff * * El1 ... ElN`");
  type2species.assign(ntypes + 1, -1);
  std::string declared;
  for (auto &e : model.elements) declared += (declared.empty() ? "" : " ") + e;
  if (!model.elements.empty()) {
    for (int t = 1; t <= ntypes; ++t) {
      std::string name = arg[1 + t];
      int found = -1;
      for (int s = 0; s < (int) model.elements.size(); ++s)
        if (model.elements[s] == name) found = s;
      if (found < 0)
        error->all(FLERR, "{}", "pair_coeff: element '" + name + "' (atom type " + std::to_string(t) + ") is not in the potential " +
                                    filename + " (its species, in training order: " + declared + ")");
      type2species[t] = found;
    }
  } else {
    std::vector<std::string> distinct;
    for (int t = 1; t <= ntypes; ++t) {
      std::string name = arg[1 + t];
      int found = -1;
      for (int s = 0; s < (int) distinct.size(); ++s)
        if (distinct[s] == name) found = s;
      if (found < 0) {
        distinct.push_back(name);
        found = (int) distinct.size() - 1;
      }
      type2species[t] = found;
    }
    if ((int) distinct.size() != model.species_count) {
      std::string names;
      for (auto &d : distinct) names += (names.empty() ? "" : " ") + d;
      error->all(FLERR, "{}", "pair_coeff: species count does not match: pair_coeff names " + std::to_string(distinct.size()) +
                                  " distinct elements (" + names + ") but " + filename + " has species_count = " +
                                  std::to_string(model.species_count) + "; list the potential's species in training order");
    }
  }
  for (int i = 1; i <= ntypes; ++i)
    for (int j = i; j <= ntypes; ++j) setflag[i][j] = 1;
}

void PairMTP::init_style()
{
  if (force->newton_pair == 0)
    error->all(FLERR, "{}", "pair_style mtp requires newton pair on (ghost-atom forces are summed by reverse communication)");
  neighbor->add_request(this, NeighConst::REQ_FULL);
}

double PairMTP::init_one(int i, int j)
{
  if (setflag[i][j] == 0) error->all(FLERR, "{}", "pair_style mtp: all pair coeffs are not set");
  return model.rmax;
}

double PairMTP::memory_usage()
{
  double bytes = Pair::memory_usage();
  bytes += (double) ws.bytes();
  return bytes;
}

void PairMTP::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  double **x = atom->x;
  double **f = atom->f;
  const int *type = atom->type;
  const int inum = list->inum;
  const int *ilist = list->ilist;
  const int *numneigh = list->numneigh;
  int **firstneigh = list->firstneigh;
  const bool explicit_virial = vflag_global && !vflag_fdotr;

  const double *xyz = inum > 0 ? &x[0][0] : nullptr;  // LAMMPS stores x contiguously
  double *fxyz = inum > 0 ? &f[0][0] : nullptr;
  for (int ii = 0; ii < inum; ++ii) {
    const int i = ilist[ii];
    const int itype = type2species[type[i]];
    const int jnum = numneigh[i];
    ws.reserve(model, jnum);
    if (jidx.size() < (size_t) jnum) jidx.resize((size_t) jnum + 8);
    const int n = mdargy_mtp::select_neighbours(model, ws, xyz, i, firstneigh[i], jnum, NEIGHMASK, type,
                                                type2species.data(), jidx.data());
    const int cap = ws.cap;
    const double *rv = ws.rvec.data();
    const double e = mdargy_mtp::site_energy(model, ws, itype, n, true);
    if (eflag_global) eng_vdwl += e;
    if (eflag_atom) eatom[i] += e;
    const double *gxr = ws.grad.data(), *gyr = gxr + cap, *gzr = gyr + cap;
    const int *jx = jidx.data();
    double fix = 0.0, fiy = 0.0, fiz = 0.0;
    for (int k = 0; k < n; ++k) {
      const int j = jx[k];
      const double gx = gxr[k], gy = gyr[k], gz = gzr[k];
      fix += gx;
      fiy += gy;
      fiz += gz;
      fxyz[3 * j] -= gx;
      fxyz[3 * j + 1] -= gy;
      fxyz[3 * j + 2] -= gz;
    }
    fxyz[3 * i] += fix;
    fxyz[3 * i + 1] += fiy;
    fxyz[3 * i + 2] += fiz;
    if (vflag_either) {
      for (int k = 0; k < n; ++k) {
        const int j = jidx[k];
        const double gx = gxr[k], gy = gyr[k], gz = gzr[k];
        const double rx = rv[k], ry = rv[cap + k], rz = rv[2 * cap + k];
        // W = -r_ij (x) dE_i/dr_ij, tallied on the neighbour j
        const double v[6] = {-rx * gx, -ry * gy, -rz * gz, -rx * gy, -rx * gz, -ry * gz};
        if (explicit_virial)
          for (int c = 0; c < 6; ++c) virial[c] += v[c];
        if (vflag_atom)
          for (int c = 0; c < 6; ++c) vatom[j][c] += v[c];
        if (cvflag_atom) {
          for (int c = 0; c < 6; ++c) cvatom[j][c] += v[c];
          cvatom[j][6] += -ry * gx;
          cvatom[j][7] += -rz * gx;
          cvatom[j][8] += -rz * gy;
        }
      }
    }
  }
  if (vflag_fdotr) virial_fdotr_compute();
}
