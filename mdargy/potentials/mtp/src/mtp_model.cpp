/* mdargy: Moment Tensor Potential model: .mtp parser and site-energy evaluator. */
#include "mtp_model.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

/* Compiled for the baseline x86-64 ISA and, where the CPU has them, AVX2+FMA / AVX-512
   (selected at load time by the dynamic linker), so the plugin runs on any x86-64 CPU. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(MDARGY_NO_CLONES)
#define MDARGY_CLONES __attribute__((target_clones("default", "arch=haswell", "arch=skylake-avx512")))
#else
#define MDARGY_CLONES
#endif

namespace mdargy_mtp {

namespace {

std::string trim(const std::string &s)
{
  size_t a = 0, b = s.size();
  while (a < b && std::isspace((unsigned char) s[a])) ++a;
  while (b > a && std::isspace((unsigned char) s[b - 1])) --b;
  return s.substr(a, b - a);
}

std::string shorten(const std::string &s)
{
  return s.size() > 40 ? s.substr(0, 40) + "..." : s;
}

bool parse_long(const std::string &tok, long &out)
{
  std::string t = trim(tok);
  if (t.empty()) return false;
  size_t k = (t[0] == '+' || t[0] == '-') ? 1 : 0;
  if (k == t.size()) return false;
  for (size_t i = k; i < t.size(); ++i)
    if (!std::isdigit((unsigned char) t[i])) return false;
  if (t.size() > 12) return false;
  out = std::strtol(t.c_str(), nullptr, 10);
  return true;
}

int get_int(const std::string &tok, int line, const std::string &what)
{
  long v;
  if (!parse_long(tok, v)) throw ParseError(line, what + ": expected an integer, got '" + shorten(trim(tok)) + "'");
  if (v < -1000000000L || v > 1000000000L) throw ParseError(line, what + ": integer out of range");
  return (int) v;
}

double get_double(const std::string &tok, int line, const std::string &what)
{
  std::string t = trim(tok);
  if (t.empty()) throw ParseError(line, what + ": expected a number, got an empty field");
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || *end != '\0')
    throw ParseError(line, what + ": expected a number, got '" + shorten(t) + "'");
  if (!std::isfinite(v)) throw ParseError(line, what + ": non-finite number '" + shorten(t) + "'");
  return v;
}

std::vector<std::string> split(const std::string &s, char sep)
{
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else
      cur += c;
  }
  out.push_back(cur);
  return out;
}

/* "{a, b, c}" -> tokens; "{}" -> empty */
std::vector<std::string> brace_list(const std::string &value, int line, const std::string &what)
{
  std::string t = trim(value);
  if (t.size() < 2 || t.front() != '{' || t.back() != '}')
    throw ParseError(line, what + ": expected a list in braces {...}, got '" + shorten(t) + "'");
  std::string inner = trim(t.substr(1, t.size() - 2));
  if (inner.find('{') != std::string::npos || inner.find('}') != std::string::npos)
    throw ParseError(line, what + ": unexpected nested braces");
  if (inner.empty()) return {};
  return split(inner, ',');
}

/* "{{..,..,..,..}, {...}}" -> rows of 4 ints */
std::vector<int> nested4(const std::string &value, int line, const std::string &what)
{
  std::string t = trim(value);
  if (t.size() < 2 || t.front() != '{' || t.back() != '}')
    throw ParseError(line, what + ": expected {{..}, ..}, got '" + shorten(t) + "'");
  std::string inner = trim(t.substr(1, t.size() - 2));
  std::vector<int> out;
  size_t pos = 0;
  int row = 0;
  while (pos < inner.size()) {
    while (pos < inner.size() && std::isspace((unsigned char) inner[pos])) ++pos;
    if (pos >= inner.size()) break;
    if (inner[pos] != '{') throw ParseError(line, what + ": malformed row " + std::to_string(row));
    size_t close = inner.find('}', pos);
    if (close == std::string::npos) throw ParseError(line, what + ": unclosed brace in row " + std::to_string(row));
    std::string body = inner.substr(pos + 1, close - pos - 1);
    if (body.find('{') != std::string::npos) throw ParseError(line, what + ": malformed row " + std::to_string(row));
    auto toks = split(body, ',');
    if (toks.size() != 4)
      throw ParseError(line, what + ": row " + std::to_string(row) + " has " + std::to_string(toks.size()) + " entries, expected 4");
    for (auto &tk : toks) out.push_back(get_int(tk, line, what));
    pos = close + 1;
    while (pos < inner.size() && std::isspace((unsigned char) inner[pos])) ++pos;
    if (pos < inner.size()) {
      if (inner[pos] != ',') throw ParseError(line, what + ": expected ',' after row " + std::to_string(row));
      ++pos;
    }
    ++row;
  }
  return out;
}

bool is_pair_label(const std::string &t, int &a, int &b)
{
  size_t dash = t.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 >= t.size()) return false;
  long x, y;
  std::string l = trim(t.substr(0, dash)), r = trim(t.substr(dash + 1));
  if (l.empty() || r.empty() || l[0] == '-' || r[0] == '-' || l[0] == '+' || r[0] == '+') return false;
  if (!parse_long(l, x) || !parse_long(r, y)) return false;
  a = (int) x;
  b = (int) y;
  return true;
}

}  // namespace

void Model::parse(const std::string &text)
{
  std::vector<std::string> lines;
  {
    std::string cur;
    for (char c : text) {
      if (c == '\n') {
        if (!cur.empty() && cur.back() == '\r') cur.pop_back();
        lines.push_back(cur);
        cur.clear();
      } else
        cur += c;
    }
    if (!cur.empty()) lines.push_back(cur);
  }
  for (size_t k = 0; k < lines.size(); ++k)
    for (char c : lines[k])
      if (c == '\0') throw ParseError((int) k + 1, "binary data (NUL byte): not an .mtp text file");
  const int nlines = (int) lines.size();
  int i = 0;
  while (i < nlines && trim(lines[i]).empty()) ++i;
  if (i >= nlines) throw ParseError(0, "empty file, expected 'MTP' on the first line");
  if (trim(lines[i]) != "MTP") throw ParseError(i + 1, "expected 'MTP' on the first line, got '" + shorten(trim(lines[i])) + "'");
  ++i;

  static const std::map<std::string, std::string> aliases = {
      {"min", "min_dist"}, {"max", "max_dist"}, {"size", "radial_basis_size"},
      {"min_val", "min_dist"}, {"max_val", "max_dist"}, {"basis_size", "radial_basis_size"}};
  static const char *known[] = {"version", "potential_name", "potential_tag", "radial_basis_type",
                                "scaling", "species_count", "min_dist", "max_dist",
                                "radial_basis_size", "radial_funcs_count", "alpha_moments_count",
                                "alpha_index_basic_count", "alpha_index_basic",
                                "alpha_index_times_count", "alpha_index_times",
                                "alpha_scalar_moments", "alpha_moment_mapping", "species_coeffs",
                                "moment_coeffs", nullptr};
  std::map<std::string, std::string> vals;
  std::map<std::string, int> where;
  struct Block { int a, b, line; std::vector<std::vector<double>> rows; std::vector<int> row_lines; };
  std::vector<Block> blocks;
  int radial_line = 0;

  while (i < nlines) {
    const std::string raw = lines[i];
    const int lineno = i + 1;
    std::string s = trim(raw);
    ++i;
    if (s.empty()) continue;
    if (s == "radial_coeffs") {
      if (radial_line) throw ParseError(lineno, "radial_coeffs given twice");
      radial_line = lineno;
      while (i < nlines) {
        std::string t = trim(lines[i]);
        int a, b;
        if (t.empty()) { ++i; continue; }
        if (is_pair_label(t, a, b)) {
          blocks.push_back(Block{a, b, i + 1, {}, {}});
          ++i;
          continue;
        }
        if (!t.empty() && t[0] == '{') {
          if (blocks.empty()) throw ParseError(i + 1, "radial_coeffs: coefficient line before the first species pair label like '0-0'");
          std::vector<double> row;
          for (auto &tk : brace_list(t, i + 1, "radial_coeffs")) row.push_back(get_double(tk, i + 1, "radial_coeffs"));
          blocks.back().rows.push_back(row);
          blocks.back().row_lines.push_back(i + 1);
          ++i;
          continue;
        }
        break;
      }
      continue;
    }
    size_t eq = s.find('=');
    if (eq == std::string::npos) throw ParseError(lineno, "cannot parse line '" + shorten(s) + "': expected 'key = value'");
    std::string key = trim(s.substr(0, eq)), value = trim(s.substr(eq + 1));
    auto al = aliases.find(key);
    if (al != aliases.end()) key = al->second;
    bool ok = false;
    for (int k = 0; known[k]; ++k)
      if (key == known[k]) ok = true;
    if (!ok) throw ParseError(lineno, "unknown key '" + shorten(key) + "'");
    if (vals.count(key)) throw ParseError(lineno, key + " given twice (first on line " + std::to_string(where[key]) + ")");
    vals[key] = value;
    where[key] = lineno;
  }
  const int last = nlines;
  auto need = [&](const std::string &key) -> const std::string & {
    auto it = vals.find(key);
    if (it == vals.end()) throw ParseError(last, "missing '" + key + "' (end of file reached without it)");
    return it->second;
  };

  version = need("version");
  if (version != "1.1.0") throw ParseError(where["version"], "unsupported version '" + shorten(version) + "'; this plugin reads 1.1.0");
  radial_basis_type = need("radial_basis_type");
  if (radial_basis_type != "RBChebyshev")
    throw ParseError(where["radial_basis_type"], "unsupported radial basis '" + shorten(radial_basis_type) + "'; supported: RBChebyshev");
  potential_name = vals.count("potential_name") ? vals["potential_name"] : "";
  potential_tag = vals.count("potential_tag") ? vals["potential_tag"] : "";
  scaling = vals.count("scaling") ? get_double(vals["scaling"], where["scaling"], "scaling") : 1.0;
  species_count = get_int(need("species_count"), where["species_count"], "species_count");
  if (species_count < 1 || species_count > 128)
    throw ParseError(where["species_count"], "species_count must be in [1, 128], got " + std::to_string(species_count));
  rb_size = get_int(need("radial_basis_size"), where["radial_basis_size"], "radial_basis_size");
  if (rb_size < 2 || rb_size > 1000)
    throw ParseError(where["radial_basis_size"], "radial_basis_size must be in [2, 1000], got " + std::to_string(rb_size));
  rmin = get_double(need("min_dist"), where["min_dist"], "min_dist");
  rmax = get_double(need("max_dist"), where["max_dist"], "max_dist");
  if (!(rmin >= 0.0 && rmin < rmax)) throw ParseError(where["max_dist"], "need 0 <= min_dist < max_dist");

  int rfc_line = vals.count("radial_funcs_count") ? where["radial_funcs_count"] : radial_line;
  if (vals.count("radial_funcs_count"))
    rf_count = get_int(vals["radial_funcs_count"], rfc_line, "radial_funcs_count");
  else if (!blocks.empty())
    rf_count = (int) blocks[0].rows.size();  // motep 0.2.0 writes the count after the block
  else
    throw ParseError(last, "missing 'radial_funcs_count' (end of file reached without it)");
  if (rf_count < 1 || rf_count > 64)
    throw ParseError(rfc_line, "radial_funcs_count must be in [1, 64], got " + std::to_string(rf_count));

  if (!radial_line) throw ParseError(last, "missing 'radial_coeffs' block: this is an untrained template; train it first");
  if ((int) blocks.size() != species_count * species_count)
    throw ParseError(radial_line, "radial_coeffs: " + std::to_string(blocks.size()) + " species-pair blocks, expected " +
                                      std::to_string(species_count * species_count) + " (species_count^2)");
  radial_coeffs.assign((size_t) species_count * species_count * rf_count * rb_size, 0.0);
  for (int a = 0, n = 0; a < species_count; ++a)
    for (int b = 0; b < species_count; ++b, ++n) {
      const Block &bl = blocks[n];
      if (bl.a != a || bl.b != b)
        throw ParseError(bl.line, "radial_coeffs: block '" + std::to_string(bl.a) + "-" + std::to_string(bl.b) + "' where '" +
                                      std::to_string(a) + "-" + std::to_string(b) + "' was expected");
      if ((int) bl.rows.size() != rf_count)
        throw ParseError(bl.line, "radial_coeffs: block '" + std::to_string(a) + "-" + std::to_string(b) + "' has " +
                                      std::to_string(bl.rows.size()) + " functions, expected " + std::to_string(rf_count) +
                                      " (radial_funcs_count)");
      for (int mu = 0; mu < rf_count; ++mu) {
        if ((int) bl.rows[mu].size() != rb_size)
          throw ParseError(bl.row_lines[mu], "radial_coeffs: " + std::to_string(bl.rows[mu].size()) + " coefficients, expected " +
                                                 std::to_string(rb_size) + " (radial_basis_size)");
        for (int k = 0; k < rb_size; ++k)
          radial_coeffs[(((size_t) a * species_count + b) * rf_count + mu) * rb_size + k] = bl.rows[mu][k];
      }
    }

  moments_count = get_int(need("alpha_moments_count"), where["alpha_moments_count"], "alpha_moments_count");
  if (moments_count < 1 || moments_count > 1000000) throw ParseError(where["alpha_moments_count"], "alpha_moments_count out of range");
  basic = nested4(need("alpha_index_basic"), where["alpha_index_basic"], "alpha_index_basic");
  times = nested4(need("alpha_index_times"), where["alpha_index_times"], "alpha_index_times");
  std::vector<std::string> mtok = brace_list(need("alpha_moment_mapping"), where["alpha_moment_mapping"], "alpha_moment_mapping");
  mapping.clear();
  for (auto &t : mtok) mapping.push_back(get_int(t, where["alpha_moment_mapping"], "alpha_moment_mapping"));
  struct CountCheck { const char *count, *list; size_t n; };
  CountCheck checks[] = {{"alpha_index_basic_count", "alpha_index_basic", basic.size() / 4},
                         {"alpha_index_times_count", "alpha_index_times", times.size() / 4},
                         {"alpha_scalar_moments", "alpha_moment_mapping", mapping.size()}};
  for (auto &c : checks) {
    int cnt = get_int(need(c.count), where[c.count], c.count);
    if (cnt < 0 || (size_t) cnt != c.n)
      throw ParseError(where[c.list], std::string(c.list) + " has " + std::to_string(c.n) + " entries but " + c.count + " = " +
                                          std::to_string(cnt) + " (line " + std::to_string(where[c.count]) + ")");
  }
  basic_count = (int) basic.size() / 4;
  times_count = (int) times.size() / 4;
  scalar_count = (int) mapping.size();
  if (basic_count > moments_count) throw ParseError(where["alpha_moments_count"], "alpha_moments_count is smaller than alpha_index_basic_count");
  max_power = 0;
  for (int k = 0; k < basic_count; ++k) {
    const int *r = &basic[4 * k];
    if (r[0] < 0 || r[0] >= rf_count || r[1] < 0 || r[2] < 0 || r[3] < 0 || r[1] > 64 || r[2] > 64 || r[3] > 64)
      throw ParseError(where["alpha_index_basic"], "alpha_index_basic row " + std::to_string(k) + ": need 0 <= mu < radial_funcs_count and powers in [0, 64]");
    for (int d = 1; d < 4; ++d) max_power = std::max(max_power, r[d]);
  }
  for (int k = 0; k < times_count; ++k) {
    const int *r = &times[4 * k];
    if (r[0] < 0 || r[0] >= moments_count || r[1] < 0 || r[1] >= moments_count || r[3] < basic_count || r[3] >= moments_count)
      throw ParseError(where["alpha_index_times"], "alpha_index_times row " + std::to_string(k) + ": indices must be in [0, " +
                                                       std::to_string(moments_count - 1) + "] and the target >= " + std::to_string(basic_count));
  }
  for (int k = 0; k < scalar_count; ++k)
    if (mapping[k] < 0 || mapping[k] >= moments_count)
      throw ParseError(where["alpha_moment_mapping"], "alpha_moment_mapping entry " + std::to_string(k) + " is outside [0, " +
                                                         std::to_string(moments_count - 1) + "]");
  auto read_doubles = [&](const char *key, size_t expect, const char *what_expect) {
    std::vector<double> out;
    for (auto &t : brace_list(need(key), where[key], key)) out.push_back(get_double(t, where[key], key));
    if (out.size() != expect)
      throw ParseError(where[key], std::string(key) + " has " + std::to_string(out.size()) + " values, expected " + std::to_string(expect) +
                                       " (" + what_expect + ")");
    return out;
  };
  if (!vals.count("species_coeffs")) throw ParseError(last, "missing 'species_coeffs': this is an untrained template; train it first");
  if (!vals.count("moment_coeffs")) throw ParseError(last, "missing 'moment_coeffs': this is an untrained template; train it first");
  species_coeffs = read_doubles("species_coeffs", species_count, "species_count");
  moment_coeffs = read_doubles("moment_coeffs", scalar_count, "alpha_scalar_moments");

  // element names (mdargy convention): potential_tag = species: Cu P S
  elements.clear();
  std::string tag = trim(potential_tag);
  if (tag.rfind("species:", 0) == 0) {
    std::istringstream is(tag.substr(8));
    std::string el;
    while (is >> el) elements.push_back(el);
    if ((int) elements.size() != species_count)
      throw ParseError(where["potential_tag"], "potential_tag names " + std::to_string(elements.size()) +
                                                   " species but species_count = " + std::to_string(species_count));
  }
  prepare();
}

void Model::prepare()
{
  // all monomials up to max_power, by degree, in MLIP's component order within a degree
  comp_a.clear(); comp_b.clear(); comp_c.clear(); comp_parent.clear(); comp_dir.clear();
  std::map<long, int> index;
  auto key = [](int a, int b, int c) { return (long) a * 10000 + b * 100 + c; };
  for (int deg = 0; deg <= max_power; ++deg)
    for (int a = deg; a >= 0; --a)
      for (int b = deg - a; b >= 0; --b) {
        int c = deg - a - b;
        index[key(a, b, c)] = (int) comp_a.size();
        comp_a.push_back(a); comp_b.push_back(b); comp_c.push_back(c);
        if (deg == 0) { comp_parent.push_back(-1); comp_dir.push_back(-1); }
        else if (a > 0) { comp_parent.push_back(index[key(a - 1, b, c)]); comp_dir.push_back(0); }
        else if (b > 0) { comp_parent.push_back(index[key(a, b - 1, c)]); comp_dir.push_back(1); }
        else { comp_parent.push_back(index[key(a, b, c - 1)]); comp_dir.push_back(2); }
      }
  ncomp = (int) comp_a.size();
  comp_dx.assign(ncomp, -1); comp_dy.assign(ncomp, -1); comp_dz.assign(ncomp, -1);
  for (int k = 0; k < ncomp; ++k) {
    if (comp_a[k] > 0) comp_dx[k] = index[key(comp_a[k] - 1, comp_b[k], comp_c[k])];
    if (comp_b[k] > 0) comp_dy[k] = index[key(comp_a[k], comp_b[k] - 1, comp_c[k])];
    if (comp_c[k] > 0) comp_dz[k] = index[key(comp_a[k], comp_b[k], comp_c[k] - 1)];
  }
  basic_comp.assign(basic_count, 0);
  std::vector<char> used(ncomp, 0);
  for (int b = 0; b < basic_count; ++b) {
    basic_comp[b] = index[key(basic[4 * b + 1], basic[4 * b + 2], basic[4 * b + 3])];
    used[basic_comp[b]] = 1;
  }
  used_comps.clear();
  for (int k = 0; k < ncomp; ++k)
    if (used[k]) used_comps.push_back(k);
  comp_nmu.assign(ncomp, 0);
  term_begin.assign(ncomp + 1, 0);
  term_mu.clear();
  term_b.clear();
  for (int c = 0; c < ncomp; ++c) {
    term_begin[c] = (int) term_mu.size();
    for (int b = 0; b < basic_count; ++b)
      if (basic_comp[b] == c) {
        term_mu.push_back(basic[4 * b]);
        term_b.push_back(b);
        comp_nmu[c] = std::max(comp_nmu[c], basic[4 * b] + 1);
      }
  }
  term_begin[ncomp] = (int) term_mu.size();
  run_begin.clear(); run_target.clear(); t_i1.clear(); t_i2.clear(); t_mult.clear();
  for (int t = 0; t < times_count; ++t) {
    if (t == 0 || times[4 * t + 3] != times[4 * (t - 1) + 3]) {
      run_begin.push_back(t);
      run_target.push_back(times[4 * t + 3]);
    }
    t_i1.push_back(times[4 * t]);
    t_i2.push_back(times[4 * t + 1]);
    t_mult.push_back((double) times[4 * t + 2]);
  }
  run_begin.push_back(times_count);
}

void Workspace::reserve(const Model &model, int n)
{
  if (m.size() < (size_t) model.moments_count) {
    m.resize(model.moments_count);
    g.resize(model.moments_count);
  }
  if ((int) sp_begin.size() < model.species_count + 1) sp_begin.assign(model.species_count + 1, 0);
  if (n > cap) {
    cap = n + n / 2 + 8;
    rvec.resize(3 * (size_t) cap);
    jtype.resize(cap);
    for (auto *v : {&rinv, &ux, &uy, &uz, &rad, &vx, &vy, &vz, &s, &w, &dw}) v->resize(cap);
    T.resize((size_t) cap * model.rb_size);
    dT.resize((size_t) cap * model.rb_size);
    f.resize((size_t) cap * model.rf_count);
    df.resize((size_t) cap * model.rf_count);
    U.resize((size_t) cap * model.ncomp);
  }
}

MDARGY_CLONES double site_energy(const Model &M, Workspace &ws, int itype, int n, double *grad)
{
  const int nrf = M.rf_count, nrb = M.rb_size, cap = ws.cap;
  const double rmin = M.rmin, rmax = M.rmax;
  const double ds = 2.0 / (rmax - rmin);
  double *__restrict m = ws.m.data();
  double *__restrict g = ws.g.data();
  double *__restrict T = ws.T.data();
  double *__restrict dT = ws.dT.data();
  double *__restrict ri = ws.rinv.data();
  double *__restrict ux = ws.ux.data();
  double *__restrict uy = ws.uy.data();
  double *__restrict uz = ws.uz.data();
  double *__restrict sv = ws.s.data();
  double *__restrict wv = ws.w.data();
  double *__restrict dwv = ws.dw.data();
  double *__restrict F = ws.f.data();
  double *__restrict dF = ws.df.data();
  double *__restrict U = ws.U.data();
  const double *__restrict rvec = ws.rvec.data();

  // distances, unit vectors, smoothing (rmax - r)^2 and Chebyshev polynomials, over neighbours
  for (int j = 0; j < n; ++j) {
    const double x = rvec[j], y = rvec[cap + j], z = rvec[2 * cap + j];
    const double r = std::sqrt(x * x + y * y + z * z);
    const double inv = 1.0 / r;
    ri[j] = inv;
    ux[j] = x * inv;
    uy[j] = y * inv;
    uz[j] = z * inv;
    sv[j] = (2.0 * r - (rmin + rmax)) / (rmax - rmin);
    wv[j] = M.scaling * (rmax - r) * (rmax - r);
    dwv[j] = -2.0 * M.scaling * (rmax - r);
  }
  for (int j = 0; j < n; ++j) {
    T[j] = 1.0;
    dT[j] = 0.0;
    T[cap + j] = sv[j];
    dT[cap + j] = ds;
  }
  for (int k = 2; k < nrb; ++k) {
    double *__restrict Tk = T + (size_t) k * cap;
    const double *__restrict T1 = T + (size_t) (k - 1) * cap;
    const double *__restrict T2 = T + (size_t) (k - 2) * cap;
    double *__restrict dTk = dT + (size_t) k * cap;
    const double *__restrict dT1 = dT + (size_t) (k - 1) * cap;
    const double *__restrict dT2 = dT + (size_t) (k - 2) * cap;
#pragma omp simd
    for (int j = 0; j < n; ++j) {
      Tk[j] = 2.0 * sv[j] * T1[j] - T2[j];
      dTk[j] = 2.0 * (ds * T1[j] + sv[j] * dT1[j]) - dT2[j];
    }
  }
  // radial functions f_mu = w * sum_k c_k T_k per species block (constant coefficients)
  for (int sp = 0; sp < M.species_count; ++sp) {
    const int j0 = ws.sp_begin[sp], j1 = ws.sp_begin[sp + 1];
    if (j0 == j1) continue;
    const double *C = &M.radial_coeffs[((size_t) itype * M.species_count + sp) * nrf * nrb];
    for (int mu = 0; mu < nrf; ++mu) {
      double *__restrict fm = F + (size_t) mu * cap;
      double *__restrict dfm = dF + (size_t) mu * cap;
      const double *c = C + (size_t) mu * nrb;
      for (int j = j0; j < j1; ++j) fm[j] = dfm[j] = 0.0;
      for (int k = 0; k < nrb; ++k) {
        const double ck = c[k];
        const double *__restrict Tk = T + (size_t) k * cap;
        const double *__restrict dTk = dT + (size_t) k * cap;
        for (int j = j0; j < j1; ++j) {
          fm[j] += ck * Tk[j];
          dfm[j] += ck * dTk[j];
        }
      }
      for (int j = j0; j < j1; ++j) {
        const double v = fm[j];
        fm[j] = v * wv[j];
        dfm[j] = dfm[j] * wv[j] + v * dwv[j];
      }
    }
  }
  // monomials of the unit vectors, each from its parent
  for (int j = 0; j < n; ++j) U[j] = 1.0;
  for (int c = 1; c < M.ncomp; ++c) {
    const double *__restrict P = U + (size_t) M.comp_parent[c] * cap;
    const double *__restrict D = M.comp_dir[c] == 0 ? ux : (M.comp_dir[c] == 1 ? uy : uz);
    double *__restrict Q = U + (size_t) c * cap;
#pragma omp simd
    for (int j = 0; j < n; ++j) Q[j] = P[j] * D[j];
  }
  // basic moments: dot products over neighbours, all radial functions of one monomial in one
  // pass (U_c is loaded once; independent reductions overlap)
  for (int c : M.used_comps) {
    const double *__restrict uc = U + (size_t) c * cap;
    int t = M.term_begin[c];
    const int t1 = M.term_begin[c + 1];
    for (; t + 1 < t1; t += 2) {
      const double *__restrict f0 = F + (size_t) M.term_mu[t] * cap;
      const double *__restrict f1 = F + (size_t) M.term_mu[t + 1] * cap;
      double a0 = 0.0, a1 = 0.0;
#pragma omp simd reduction(+ : a0, a1)
      for (int j = 0; j < n; ++j) {
        a0 += f0[j] * uc[j];
        a1 += f1[j] * uc[j];
      }
      m[M.term_b[t]] = a0;
      m[M.term_b[t + 1]] = a1;
    }
    if (t < t1) {
      const double *__restrict f0 = F + (size_t) M.term_mu[t] * cap;
      double a0 = 0.0;
#pragma omp simd reduction(+ : a0)
      for (int j = 0; j < n; ++j) a0 += f0[j] * uc[j];
      m[M.term_b[t]] = a0;
    }
  }
  for (int k = M.basic_count; k < M.moments_count; ++k) m[k] = 0.0;
  // contractions, in file order
  const int nruns = (int) M.run_target.size();
  const int *__restrict i1 = M.t_i1.data();
  const int *__restrict i2 = M.t_i2.data();
  const double *__restrict mult = M.t_mult.data();
  for (int r = 0; r < nruns; ++r) {
    double acc0 = 0.0, acc1 = 0.0;
    int t = M.run_begin[r];
    const int t1 = M.run_begin[r + 1];
    for (; t + 1 < t1; t += 2) {
      acc0 += mult[t] * m[i1[t]] * m[i2[t]];
      acc1 += mult[t + 1] * m[i1[t + 1]] * m[i2[t + 1]];
    }
    if (t < t1) acc0 += mult[t] * m[i1[t]] * m[i2[t]];
    m[M.run_target[r]] += acc0 + acc1;
  }
  double e = M.species_coeffs[itype];
  for (int a = 0; a < M.scalar_count; ++a) e += M.moment_coeffs[a] * m[M.mapping[a]];
  if (!grad) return e;

  // reverse pass: g = dE/dm
  for (int k = 0; k < M.moments_count; ++k) g[k] = 0.0;
  for (int a = 0; a < M.scalar_count; ++a) g[M.mapping[a]] += M.moment_coeffs[a];
  for (int r = nruns - 1; r >= 0; --r) {
    const double gt = g[M.run_target[r]];
    if (gt == 0.0) continue;
    for (int t = M.run_begin[r + 1] - 1; t >= M.run_begin[r]; --t) {
      const double gm = mult[t] * gt;
      g[i1[t]] += gm * m[i2[t]];
      g[i2[t]] += gm * m[i1[t]];
    }
  }
  // dE/dr_ij = (sum_c B_c U_c) u + (1/r) (1 - u u^T) sum_c A_c grad_u U_c, with
  // A_c = sum_mu g_{b(mu,c)} f_mu(r_ij) and B_c the same with f'_mu (b(mu,c): the basic moment
  // of radial function mu on monomial c); the projection removes the radial part of
  // grad_u U_c, which is k_c U_c u.
  double *__restrict rad = ws.rad.data();
  double *__restrict vx = ws.vx.data();
  double *__restrict vy = ws.vy.data();
  double *__restrict vz = ws.vz.data();
  for (int j = 0; j < n; ++j) rad[j] = vx[j] = vy[j] = vz[j] = 0.0;
  double gc[64];
  for (int c : M.used_comps) {
    const int nmu = M.comp_nmu[c];
    for (int mu = 0; mu < nmu; ++mu) gc[mu] = 0.0;
    for (int t = M.term_begin[c]; t < M.term_begin[c + 1]; ++t) gc[M.term_mu[t]] += g[M.term_b[t]];
    const double *__restrict uc = U + (size_t) c * cap;
    // d/du_x of x^a y^b z^c is a x^(a-1) y^b z^c; a zero power multiplies any row by 0
    const double pa = M.comp_a[c], pb = M.comp_b[c], pc = M.comp_c[c];
    const double *__restrict udx = U + (size_t) (M.comp_dx[c] >= 0 ? M.comp_dx[c] : 0) * cap;
    const double *__restrict udy = U + (size_t) (M.comp_dy[c] >= 0 ? M.comp_dy[c] : 0) * cap;
    const double *__restrict udz = U + (size_t) (M.comp_dz[c] >= 0 ? M.comp_dz[c] : 0) * cap;
    if (nmu == 1) {
      const double g0 = gc[0];
      if (g0 == 0.0) continue;
#pragma omp simd
      for (int j = 0; j < n; ++j) {
        const double a = g0 * F[j], bb = g0 * dF[j];
        rad[j] += bb * uc[j];
        vx[j] += pa * a * udx[j];
        vy[j] += pb * a * udy[j];
        vz[j] += pc * a * udz[j];
      }
    } else {
#pragma omp simd
      for (int j = 0; j < n; ++j) {
        double a = 0.0, bb = 0.0;
        for (int mu = 0; mu < nmu; ++mu) {
          a += gc[mu] * F[(size_t) mu * cap + j];
          bb += gc[mu] * dF[(size_t) mu * cap + j];
        }
        rad[j] += bb * uc[j];
        vx[j] += pa * a * udx[j];
        vy[j] += pb * a * udy[j];
        vz[j] += pc * a * udz[j];
      }
    }
  }
  for (int j = 0; j < n; ++j) {
    const double vu = vx[j] * ux[j] + vy[j] * uy[j] + vz[j] * uz[j];
    const double rr = rad[j] - ri[j] * vu;
    grad[3 * j + 0] = rr * ux[j] + ri[j] * vx[j];
    grad[3 * j + 1] = rr * uy[j] + ri[j] * vy[j];
    grad[3 * j + 2] = rr * uz[j] + ri[j] * vz[j];
  }
  return e;
}

}  // namespace mdargy_mtp
