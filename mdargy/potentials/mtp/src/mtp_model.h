/* mdargy: Moment Tensor Potential model (parser of MLIP's .mtp 1.1.0 text format + evaluator).
 *
 * Independent of LAMMPS: pure C++ on arrays, so it can be reasoned about and tested alone.
 *
 * Site energy (Shapeev 2016; Novikov et al. 2021):
 *   E_i = species_coeffs[t_i] + sum_alpha moment_coeffs[alpha] * m[mapping[alpha]]
 * with basic moments m[b] = sum_j f_{mu_b}(r_ij) * ux^a uy^b uz^c (u = r_ij / r_ij),
 * radial functions f_mu(r) = sum_k c[t_i][t_j][mu][k] * T_k(s(r)) * scaling * (rmax - r)^2,
 * s = (2r - rmin - rmax) / (rmax - rmin), T_k Chebyshev polynomials, and further moments
 * from the contractions m[i3] += mult * m[i1] * m[i2] applied in file order. */
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
  int max_power = 0;

  /* Monomials x^a y^b z^c (a+b+c <= max_power) indexed 0..ncomp-1 by increasing degree;
     each is its parent times one unit-vector component (dir 0/1/2). Set by parse(). */
  int ncomp = 0;
  std::vector<int> comp_a, comp_b, comp_c, comp_parent, comp_dir;
  std::vector<int> comp_dx, comp_dy, comp_dz;  // index of the monomial with a-1 (b-1, c-1) or -1
  std::vector<int> basic_comp;                 // monomial of each basic moment
  std::vector<int> used_comps;                 // monomials used by some basic moment
  std::vector<int> comp_nmu;                   // 1 + largest mu of a basic moment on monomial c
  std::vector<int> term_begin, term_mu, term_b;  // basic moments (mu, b) on monomial c:
                                                 // entries term_begin[c] .. term_begin[c+1]-1
  /* alpha_index_times as runs of consecutive entries with the same target (file order kept):
     run r covers entries run_begin[r] .. run_begin[r+1]-1, all writing m[run_target[r]] */
  std::vector<int> run_begin, run_target, t_i1, t_i2;
  std::vector<double> t_mult;

  /* Parse the text of an .mtp file. Throws ParseError. */
  void parse(const std::string &text);
  void prepare();
};

/* Per-thread workspace of the evaluator, grown on demand, never shrunk. Per-neighbour arrays
   are stored row-major with stride `cap` (rows: basis index, columns: neighbours) so that the
   inner loops run over neighbours and vectorise. */
struct Workspace {
  int cap = 0;
  std::vector<double> m, g;            // moment values and dE/dm
  std::vector<double> rvec;            // input: r_ij, x at [j], y at [cap + j], z at [2 cap + j]
  std::vector<int> jtype;              // input: species of each neighbour
  std::vector<double> rinv, ux, uy, uz;
  std::vector<double> f, df;           // [mu][j]: f_mu(r_ij), df_mu/dr
  std::vector<double> U;               // [comp][j]: monomials of the unit vector
  std::vector<double> rad, vx, vy, vz; // [j]
  std::vector<double> T, dT;           // [k][j]: Chebyshev polynomials and derivatives
  std::vector<double> s, w, dw;        // [j]: reduced distance, smoothing and its derivative
  std::vector<int> sp_begin;           // neighbours are grouped by species: [sp_begin[s], sp_begin[s+1])
  void reserve(const Model &m, int nneigh);
};

/* Site energy of a centre of species `itype` with `n` neighbours at r_ij = (rvec[k],
 * rvec[cap + k], rvec[2 cap + k])
 * (all inside the cutoff), grouped by species: neighbours sp_begin[s] .. sp_begin[s+1]-1 are
 * of species s (sp_begin has species_count + 1 entries, sp_begin[species_count] = n).
 * The gradient dE_i/dr_ij is written to grad[3k..3k+2] (if grad is not null). */
double site_energy(const Model &model, Workspace &ws, int itype, int n, double *grad);

}  // namespace mdargy_mtp

#endif
