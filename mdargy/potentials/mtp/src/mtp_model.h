/* mdargy: Moment Tensor Potential model (parser of MLIP's .mtp 1.1.0 text format + evaluator).
 *
 * Independent of LAMMPS: pure C++ on arrays, so it can be reasoned about and tested alone.
 *
 * Site energy (Shapeev 2016; Novikov et al. 2021):
 *   E_i = species_coeffs[t_i] + sum_alpha moment_coeffs[alpha] * m[mapping[alpha]]
 * with basic moments m[b] = sum_j f_{mu_b}(r_ij) * ux^a uy^b uz^c (u = r_ij / r_ij),
 * radial functions f_mu(r) = sum_k c[t_i][t_j][mu][k] * T_k(s(r)) * scaling * (rmax - r)^2,
 * s = (2r - rmin - rmax) / (rmax - rmin), T_k Chebyshev polynomials, and further moments
 * from the contractions m[i3] += mult * m[i1] * m[i2] applied in file order.
 *
 * Evaluation (site_energy): neighbours are processed in SIMD blocks of W = 8 / 4 / 2 doubles
 * (x86-64-v4 / -v3 / baseline version, chosen at run time from the CPU's features). Forward:
 * per block, Chebyshev polynomials and the radial functions f_mu, f'_mu (coefficients of the
 * species pair; neighbours are grouped by species so a block rarely mixes species); the
 * monomials u^(a,b,c) of every neighbour, each once (its parent times one component), shared
 * by all radial functions; each basic moment as one dot product over neighbours; then the
 * contractions. Reverse: g = dE/dm by reverse-mode differentiation of the contractions; then,
 * for each radial function mu, the polynomial P_mu(u) = sum_b g_b u^(a_b,b_b,c_b) and its
 * gradient are evaluated on every neighbour from a per-atom table of their coefficients in
 * the monomial basis (4 fused multiply-adds per monomial), and
 *   dE_i/dr_ij = sum_mu [f'_mu P_mu u + (f_mu / r) (1 - u u^T) grad P_mu].
 * No allocation once the workspace has grown to the largest neighbour count. */
#ifndef MDARGY_MTP_MODEL_H
#define MDARGY_MTP_MODEL_H

#include <stdexcept>
#include <string>
#include <vector>

namespace mdargy_mtp {

/* A problem in an .mtp file: line (1-based, 0 = whole file) and message. */
struct ParseError : public std::runtime_error {
  int line;
  ParseError(int l, const std::string &msg) : std::runtime_error(msg), line(l) {}
};

struct Model {
  std::string version, potential_name, potential_tag, radial_basis_type;
  int species_count = 0, rb_size = 0, rf_count = 0;
  int moments_count = 0, basic_count = 0, times_count = 0, scalar_count = 0;
  double rmin = 0.0, rmax = 0.0, scaling = 1.0;
  std::vector<double> radial_coeffs;  // [species][species][rf_count][rb_size]
  std::vector<int> basic;             // basic_count x 4: mu, a, b, c
  std::vector<int> times;             // times_count x 4: i1, i2, mult, i3
  std::vector<int> mapping;           // scalar_count
  std::vector<double> species_coeffs, moment_coeffs;
  std::vector<std::string> elements;  // from potential_tag "species: A B C" (may be empty)
  int max_power = 0;  // largest degree a + b + c of a basic moment

  /* ---- evaluation tables, set by prepare() ---- */
  /* Monomials x^a y^b z^c (a+b+c <= max_power) indexed 0..ncomp-1 by increasing degree;
     each is its parent times one unit-vector component (dir 0/1/2). */
  int ncomp = 0;
  std::vector<int> comp_a, comp_b, comp_c, comp_parent, comp_dir;
  std::vector<int> basic_mu, basic_comp;  // radial function and monomial of each basic moment
  /* Backward pass. For each radial function mu, the polynomial
       P_mu(u) = sum_b [mu_b = mu] g_b U_{c_b}(u)
     and its gradient are evaluated together as dot products of per-atom coefficient vectors
     with the monomials U_c(u_j). Entries ent_begin[mu] .. ent_mid[mu]-1 are monomials on which
     P_mu or one of its partial derivatives has a term (4 coefficients: P, dP/dux, dP/duy,
     dP/duz); entries ent_mid[mu] .. ent_begin[mu+1]-1 carry only a P term (top degree).
     ent_comp[k]: the monomial of entry k. The per-atom table (4 doubles per entry) is
     sum over ct_terms of factor * g[b] into slot: basic moment b adds g_b to the P slot of its
     monomial and (power) * g_b to the d/du slots of the monomials one degree lower. */
  struct Term { int slot, b; double factor; };
  int n_entries = 0;
  std::vector<int> ent_begin, ent_mid, ent_comp;
  std::vector<Term> ct_terms;
  std::vector<int> slot_p, slot_x, slot_y, slot_z;  // slots of each basic moment (-1: none)
  std::vector<double> pow_a, pow_b, pow_c;
  /* alpha_index_times as runs of consecutive entries with the same target (file order kept):
     run r covers steps run_begin[r] .. run_begin[r+1]-1, all adding mult * m[i1] * m[i2] to
     m[run_target[r]] */
  struct Step { int i1, i2; double mult; };
  std::vector<int> run_begin, run_target;
  std::vector<Step> steps;

  /* Parse the text of an .mtp file. Throws ParseError. */
  void parse(const std::string &text);
  void prepare();
};

/* 64-byte aligned storage of doubles (one cache line = one block of 8 neighbours). */
struct alignas(64) Line { double v[8]; };
struct Buf {
  std::vector<Line> lines;
  double *data() { return reinterpret_cast<double *>(lines.data()); }
  const double *data() const { return reinterpret_cast<const double *>(lines.data()); }
  void resize_doubles(size_t n) { lines.resize((n + 7) / 8); }
  size_t bytes() const { return lines.capacity() * sizeof(Line); }
};

/* Per-thread workspace of the evaluator, grown on demand, never shrunk. Neighbours are
   processed in blocks of 8 (one SIMD vector of doubles); per-neighbour arrays are rows of
   stride `cap` (a multiple of 8, > n). Inputs: the neighbour vectors r_ij in rows
   rvec[0..cap), rvec[cap..2cap), rvec[2cap..3cap) (x, y, z) and their species in jtype,
   grouped by species (sp_begin). Output: dE_i/dr_ij in rows grad (x, y, z, stride cap). */
struct Workspace {
  int cap = 0;
  std::vector<double> m, g;  // moment values and dE/dm
  std::vector<double> ct;    // backward coefficient table (4 per entry)
  Buf rvec, grad;            // [3][cap]
  std::vector<int> jtype;    // [cap]: species of each neighbour
  std::vector<int> sp_begin;  // neighbours are grouped by species: [sp_begin[s], sp_begin[s+1])
  Buf geo;                   // [4][cap]: 1/r, ux, uy, uz
  Buf f, df;                 // [mu][cap]: f_mu(r_ij), df_mu/dr
  Buf U;                     // [comp][cap]: monomials of the unit vector
  Buf cheb;                  // [2][rb_size][8]: Chebyshev polynomials of one block
  Buf cand;                  // [3][cap]: select_neighbours scratch
  std::vector<int> cj, cs, fill;
  void reserve(const Model &m, int nneigh);
  size_t bytes() const;
};

/* Site energy of a centre of species `itype` with `n` neighbours at r_ij = (rvec[k],
 * rvec[cap + k], rvec[2 cap + k]) of species jtype[k] (all inside the cutoff, r > 0), grouped
 * by species: neighbours sp_begin[s] .. sp_begin[s+1]-1 are of species s (sp_begin has
 * species_count + 1 entries, sp_begin[species_count] = n). ws.reserve(model, n) first.
 * With want_grad, dE_i/dr_ij is written to ws.grad (x at [k], y at [cap + k], z at
 * [2 cap + k]). */
double site_energy(const Model &model, Workspace &ws, int itype, int n, bool want_grad);

/* Fill the evaluator's input for centre i: the neighbours j = jlist[k] & nmask (k < jnum) with
 * 0 < |x_j - x_i|^2 < rmax^2 (positions xyz[3j .. 3j+2]), grouped by species
 * (species_of_type[type[j]]): ws.rvec, ws.jtype, ws.sp_begin, and jidx[k] = the atom index of
 * input neighbour k. ws.reserve(model, jnum) first; jidx holds at least jnum entries.
 * Returns the number of neighbours n. */
int select_neighbours(const Model &model, Workspace &ws, const double *xyz, int i, const int *jlist, int jnum, int nmask,
                      const int *type, const int *species_of_type, int *jidx);

}  // namespace mdargy_mtp

#endif
