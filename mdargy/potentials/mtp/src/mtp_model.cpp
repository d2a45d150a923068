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

/* Compiled for the baseline x86-64 ISA and for the x86-64-v3 (AVX2 + FMA) and x86-64-v4
   (AVX-512) feature levels; the dynamic linker picks the best one the CPU supports, so the
   plugin runs on any x86-64 CPU. The clones are selected by CPU features: `arch=haswell` or
   `arch=skylake-avx512` clones would be selected by CPU *model* (GCC's __builtin_cpu_is) and
   every other CPU (AMD, later Intel generations) would get the SSE2 fallback. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(MDARGY_NO_CLONES)
#if __GNUC__ >= 12
#define MDARGY_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define MDARGY_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#endif
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
    if (r[1] + r[2] + r[3] > 64)
      throw ParseError(where["alpha_index_basic"], "alpha_index_basic row " + std::to_string(k) + ": tensor rank (sum of the powers) above 64");
    max_power = std::max(max_power, r[1] + r[2] + r[3]);
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
  // all monomials up to degree max_power, by degree, in MLIP's component order within a degree
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
        else if (a > 0) { comp_parent.push_back(index.at(key(a - 1, b, c))); comp_dir.push_back(0); }
        else if (b > 0) { comp_parent.push_back(index.at(key(a, b - 1, c))); comp_dir.push_back(1); }
        else { comp_parent.push_back(index.at(key(a, b, c - 1))); comp_dir.push_back(2); }
      }
  ncomp = (int) comp_a.size();
  basic_mu.assign(basic_count, 0);
  basic_comp.assign(basic_count, 0);
  for (int b = 0; b < basic_count; ++b) {
    basic_mu[b] = basic[4 * b];
    basic_comp[b] = index.at(key(basic[4 * b + 1], basic[4 * b + 2], basic[4 * b + 3]));
  }
  // backward-pass entries, per radial function: monomials carrying a gradient term first
  ent_begin.assign(rf_count + 1, 0);
  ent_mid.assign(rf_count, 0);
  ent_comp.clear();
  slot_p.assign(basic_count, 0); slot_x.assign(basic_count, 0);
  slot_y.assign(basic_count, 0); slot_z.assign(basic_count, 0);
  pow_a.assign(basic_count, 0.0); pow_b.assign(basic_count, 0.0); pow_c.assign(basic_count, 0.0);
  std::vector<int> pos(ncomp);
  std::vector<char> has_p(ncomp), has_g(ncomp);
  auto lower = [&](int c, int d) {  // the monomial with power d lowered by one
    int a = comp_a[c] - (d == 0), b = comp_b[c] - (d == 1), cc = comp_c[c] - (d == 2);
    return index.at(key(a, b, cc));
  };
  for (int mu = 0; mu < rf_count; ++mu) {
    std::fill(has_p.begin(), has_p.end(), 0);
    std::fill(has_g.begin(), has_g.end(), 0);
    std::fill(pos.begin(), pos.end(), -1);
    for (int b = 0; b < basic_count; ++b) {
      if (basic_mu[b] != mu) continue;
      const int c = basic_comp[b];
      has_p[c] = 1;
      if (comp_a[c] > 0) has_g[lower(c, 0)] = 1;
      if (comp_b[c] > 0) has_g[lower(c, 1)] = 1;
      if (comp_c[c] > 0) has_g[lower(c, 2)] = 1;
    }
    ent_begin[mu] = (int) ent_comp.size();
    for (int c = 0; c < ncomp; ++c)
      if (has_g[c]) { pos[c] = (int) ent_comp.size(); ent_comp.push_back(c); }
    ent_mid[mu] = (int) ent_comp.size();
    for (int c = 0; c < ncomp; ++c)
      if (has_p[c] && !has_g[c]) { pos[c] = (int) ent_comp.size(); ent_comp.push_back(c); }
    for (int b = 0; b < basic_count; ++b) {
      if (basic_mu[b] != mu) continue;
      const int c = basic_comp[b];
      slot_p[b] = 4 * pos[c];
      slot_x[b] = comp_a[c] > 0 ? 4 * pos[lower(c, 0)] + 1 : -1;  // -1: no term
      slot_y[b] = comp_b[c] > 0 ? 4 * pos[lower(c, 1)] + 2 : -1;
      slot_z[b] = comp_c[c] > 0 ? 4 * pos[lower(c, 2)] + 3 : -1;
      pow_a[b] = comp_a[c];
      pow_b[b] = comp_b[c];
      pow_c[b] = comp_c[c];
    }
  }
  n_entries = (int) ent_comp.size();
  ent_begin[rf_count] = n_entries;
  ct_terms.clear();
  for (int b = 0; b < basic_count; ++b) {
    ct_terms.push_back(Term{slot_p[b], b, 1.0});
    if (slot_x[b] >= 0) ct_terms.push_back(Term{slot_x[b], b, pow_a[b]});
    if (slot_y[b] >= 0) ct_terms.push_back(Term{slot_y[b], b, pow_b[b]});
    if (slot_z[b] >= 0) ct_terms.push_back(Term{slot_z[b], b, pow_c[b]});
  }
  std::stable_sort(ct_terms.begin(), ct_terms.end(), [](const Term &a, const Term &b) { return a.slot < b.slot; });
  run_begin.clear(); run_target.clear(); steps.clear();
  for (int t = 0; t < times_count; ++t) {
    if (t == 0 || times[4 * t + 3] != times[4 * (t - 1) + 3]) {
      run_begin.push_back(t);
      run_target.push_back(times[4 * t + 3]);
    }
    steps.push_back(Step{times[4 * t], times[4 * t + 1], (double) times[4 * t + 2]});
  }
  run_begin.push_back(times_count);
}

void Workspace::reserve(const Model &model, int n)
{
  if (m.size() != (size_t) model.moments_count) {
    m.assign(model.moments_count, 0.0);
    g.assign(model.moments_count, 0.0);
  }
  if (ct.size() != (size_t) 4 * model.n_entries) ct.assign((size_t) 4 * model.n_entries, 0.0);
  if (sp_begin.size() != (size_t) model.species_count + 1) sp_begin.assign(model.species_count + 1, 0);
  if (cheb.lines.size() != (size_t) 2 * model.rb_size) cheb.lines.assign(2 * (size_t) model.rb_size, Line());
  const int need = (n + 7) / 8 * 8;
  if (need > cap || f.lines.size() * 8 != (size_t) cap * model.rf_count || U.lines.size() * 8 != (size_t) cap * model.ncomp) {
    if (need > cap) cap = (need + need / 2 + 8) / 8 * 8;
    rvec.resize_doubles(3 * (size_t) cap);
    grad.resize_doubles(3 * (size_t) cap);
    jtype.resize(cap);
    geo.resize_doubles(7 * (size_t) cap);
    f.resize_doubles((size_t) cap * model.rf_count);
    df.resize_doubles((size_t) cap * model.rf_count);
    U.resize_doubles((size_t) cap * model.ncomp);
    cand.resize_doubles(3 * (size_t) cap);
    cj.resize(cap);
    cs.resize(cap);
  }
  if (fill.size() != (size_t) model.species_count) fill.assign(model.species_count, 0);
}

size_t Workspace::bytes() const
{
  return sizeof(double) * (m.capacity() + g.capacity() + ct.capacity()) + sizeof(int) * (jtype.capacity() + sp_begin.capacity()) +
         rvec.bytes() + grad.bytes() + cand.bytes() + sizeof(int) * (cj.capacity() + cs.capacity()) + geo.bytes() + f.bytes() + df.bytes() + U.bytes() + cheb.bytes();
}

namespace {
/* A block of W neighbours is one GCC vector of W doubles: W = 8 (one AVX-512 register) in
   the x86-64-v4 version of the evaluator, 4 (one AVX2 register) in the x86-64-v3 version,
   2 (SSE2) in the baseline version; see site_energy() at the end. */
template <int W> struct Vec;
template <> struct Vec<8> {
  typedef double d __attribute__((vector_size(64)));
  typedef long long m __attribute__((vector_size(64)));
};
template <> struct Vec<4> {
  typedef double d __attribute__((vector_size(32)));
  typedef long long m __attribute__((vector_size(32)));
};
template <> struct Vec<2> {
  typedef double d __attribute__((vector_size(16)));
  typedef long long m __attribute__((vector_size(16)));
};
// macros, not functions, so that everything is compiled for the caller's target ISA
#define vld(p) (*reinterpret_cast<const vd *>(p))  // p is W * 8 byte aligned
#define vst(p, v) (*reinterpret_cast<vd *>(p) = (v))
#define vset(x) (vd{} + (double) (x))
}  // namespace

MDARGY_CLONES int select_neighbours(const Model &M, Workspace &ws, const double *xyz, int i, const int *jlist, int jnum,
                                   int nmask, const int *type, const int *species_of_type, int *jidx)
{
  const int cap = ws.cap, nsp = M.species_count;
  const double rc2 = M.rmax * M.rmax;
  const double xi = xyz[3 * i], yi = xyz[3 * i + 1], zi = xyz[3 * i + 2];
  double *__restrict cx = ws.cand.data();
  double *__restrict cy = cx + cap;
  double *__restrict cz = cy + cap;
  int *__restrict cj = ws.cj.data();
  int n = 0;
  for (int jj = 0; jj < jnum; ++jj) {  // branch-free: typically less than half the list is kept
    const int j = jlist[jj] & nmask;
    const double dx = xyz[3 * j] - xi, dy = xyz[3 * j + 1] - yi, dz = xyz[3 * j + 2] - zi;
    const double rsq = dx * dx + dy * dy + dz * dz;
    cx[n] = dx;
    cy[n] = dy;
    cz[n] = dz;
    cj[n] = j;
    n += (rsq < rc2) & (rsq > 0.0);
  }
  double *__restrict rx = ws.rvec.data();
  double *__restrict ry = rx + cap;
  double *__restrict rz = ry + cap;
  int *__restrict jt = ws.jtype.data();
  int *__restrict cnt = ws.sp_begin.data();
  if (nsp == 1) {
    for (int k = 0; k < n; ++k) {
      rx[k] = cx[k];
      ry[k] = cy[k];
      rz[k] = cz[k];
      jt[k] = 0;
      jidx[k] = cj[k];
    }
    cnt[0] = 0;
    cnt[1] = n;
    return n;
  }
  // counting sort by species
  int *__restrict cs = ws.cs.data();
  for (int s = 0; s <= nsp; ++s) cnt[s] = 0;
  for (int k = 0; k < n; ++k) {
    cs[k] = species_of_type[type[cj[k]]];
    cnt[cs[k] + 1]++;
  }
  for (int s = 0; s < nsp; ++s) cnt[s + 1] += cnt[s];
  int *__restrict fill = ws.fill.data();
  for (int s = 0; s < nsp; ++s) fill[s] = cnt[s];
  for (int k = 0; k < n; ++k) {
    const int sp = cs[k];
    const int pos = fill[sp]++;
    rx[pos] = cx[k];
    ry[pos] = cy[k];
    rz[pos] = cz[k];
    jt[pos] = sp;
    jidx[pos] = cj[k];
  }
  return n;
}

template <int W>
__attribute__((always_inline)) inline double site_energy_w(const Model &M, Workspace &ws, int itype, int n, bool want_grad)
{
  typedef typename Vec<W>::d vd;
  typedef typename Vec<W>::m vm;
  const int cap = ws.cap, nrf = M.rf_count, nrb = M.rb_size, nsp = M.species_count, nbasic = M.basic_count;
  const int nblk = (n + W - 1) / W, npad = nblk * W;
  const double rmin = M.rmin, rmax = M.rmax, scaling = M.scaling;
  const double ds = 2.0 / (rmax - rmin), s0c = (rmin + rmax) / (rmax - rmin);
  double *__restrict rx = ws.rvec.data();
  double *__restrict ry = rx + cap;
  double *__restrict rz = ry + cap;
  int *__restrict jt = ws.jtype.data();
  // padding lanes sit on the cutoff, where f_mu = f'_mu = 0: they add nothing to any moment
  for (int j = n; j < npad; ++j) {
    rx[j] = rmax;
    ry[j] = rz[j] = 0.0;
    jt[j] = jt[n - 1];
  }
  double *__restrict ri = ws.geo.data();
  double *__restrict ux = ri + cap;
  double *__restrict uy = ux + cap;
  double *__restrict uz = uy + cap;
  double *__restrict sv = uz + cap;
  double *__restrict wv = sv + cap;
  double *__restrict dwv = wv + cap;
#pragma omp simd
  for (int j = 0; j < npad; ++j) {
    const double x = rx[j], y = ry[j], z = rz[j];
    const double r = std::sqrt(x * x + y * y + z * z);
    const double inv = 1.0 / r;
    ri[j] = inv;
    ux[j] = x * inv;
    uy[j] = y * inv;
    uz[j] = z * inv;
    sv[j] = r * ds - s0c;
    const double d = rmax - r;
    wv[j] = scaling * d * d;
    dwv[j] = -2.0 * scaling * d;
  }
  double *__restrict F = ws.f.data();
  double *__restrict dF = ws.df.data();
  double *__restrict U = ws.U.data();
  double *__restrict T = ws.cheb.data();
  double *__restrict dT = T + (size_t) W * nrb;
  const double *Cit = M.radial_coeffs.data() + (size_t) itype * nsp * nrf * nrb;
  const int *__restrict cpar = M.comp_parent.data();
  const int *__restrict cdir = M.comp_dir.data();
  const int *__restrict bmu = M.basic_mu.data();
  const int *__restrict bcomp = M.basic_comp.data();

  // forward pass: radial functions, one block of W neighbours at a time
  for (int blk = 0; blk < nblk; ++blk) {
    const int j0 = blk * W;
    const vd s = vld(sv + j0), w = vld(wv + j0), dw = vld(dwv + j0);
    {  // Chebyshev polynomials T_k(s) and dT_k/dr
      vd t0 = vset(1.0), t1 = s, d0 = vset(0.0), d1 = vset(ds);
      vst(T, t0); vst(dT, d0);
      if (nrb > 1) { vst(T + W, t1); vst(dT + W, d1); }
      for (int k = 2; k < nrb; ++k) {
        const vd t2 = 2.0 * s * t1 - t0;
        const vd d2 = 2.0 * (ds * t1 + s * d1) - d0;
        vst(T + W * k, t2); vst(dT + W * k, d2);
        t0 = t1; t1 = t2; d0 = d1; d1 = d2;
      }
    }
    // radial functions with the coefficients of each species pair present in the block
    // (neighbours are grouped by species, so a block usually holds one species)
    const int sa = jt[j0], sb = jt[j0 + W - 1];
    for (int sp = sa; sp <= sb; ++sp) {
      const double *C = Cit + (size_t) sp * nrf * nrb;
      vm mask = {};
      if (sa != sb)
        for (int l = 0; l < W; ++l) mask[l] = jt[j0 + l] == sp ? -1 : 0;
      for (int mu = 0; mu < nrf; ++mu) {
        const double *c = C + (size_t) mu * nrb;
        vd a0 = vset(0.0), a1 = vset(0.0), da0 = vset(0.0), da1 = vset(0.0);
        int k = 0;
        for (; k + 1 < nrb; k += 2) {
          a0 += c[k] * vld(T + W * k);
          da0 += c[k] * vld(dT + W * k);
          a1 += c[k + 1] * vld(T + W * (k + 1));
          da1 += c[k + 1] * vld(dT + W * (k + 1));
        }
        if (k < nrb) {
          a0 += c[k] * vld(T + W * k);
          da0 += c[k] * vld(dT + W * k);
        }
        const vd a = a0 + a1, da = da0 + da1;
        const vd fv = w * a, dfv = w * da + dw * a;
        double *fp = F + (size_t) mu * cap + j0, *dfp = dF + (size_t) mu * cap + j0;
        if (sa == sb) {
          vst(fp, fv);
          vst(dfp, dfv);
        } else {
          vst(fp, mask ? fv : vld(fp));
          vst(dfp, mask ? dfv : vld(dfp));
        }
      }
    }
  }
  // monomials of the unit vectors, each its parent times one component
  for (int blk = 0; blk < nblk; ++blk) vst(U + blk * W, vset(1.0));
  for (int c = 1; c < M.ncomp; ++c) {
    double *__restrict q = U + (size_t) c * cap;
    const double *__restrict p = U + (size_t) cpar[c] * cap;
    const double *__restrict d = ux + (size_t) cdir[c] * cap;
    for (int blk = 0; blk < nblk; ++blk) vst(q + blk * W, vld(p + blk * W) * vld(d + blk * W));
  }
  // basic moments: sums over neighbours, each in one register
  double *__restrict m = ws.m.data();
  double *__restrict g = ws.g.data();
  for (int b = 0; b < nbasic; ++b) {
    const double *__restrict fr = F + (size_t) bmu[b] * cap;
    const double *__restrict ur = U + (size_t) bcomp[b] * cap;
    vd acc = vset(0.0);
    for (int blk = 0; blk < nblk; ++blk) acc += vld(fr + blk * W) * vld(ur + blk * W);
    if constexpr (W == 8)
      m[b] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    else if constexpr (W == 4)
      m[b] = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    else
      m[b] = acc[0] + acc[1];
  }
  for (int k = nbasic; k < M.moments_count; ++k) m[k] = 0.0;
  // contractions, in file order
  const int nruns = (int) M.run_target.size();
  const int *__restrict rbeg = M.run_begin.data();
  const int *__restrict rtgt = M.run_target.data();
  const Model::Step *__restrict st = M.steps.data();
  for (int r = 0; r < nruns; ++r) {
    double acc0 = 0.0, acc1 = 0.0;
    int t = rbeg[r];
    const int t1 = rbeg[r + 1];
    for (; t + 1 < t1; t += 2) {
      acc0 += st[t].mult * m[st[t].i1] * m[st[t].i2];
      acc1 += st[t + 1].mult * m[st[t + 1].i1] * m[st[t + 1].i2];
    }
    if (t < t1) acc0 += st[t].mult * m[st[t].i1] * m[st[t].i2];
    m[rtgt[r]] += acc0 + acc1;
  }
  double e = M.species_coeffs[itype];
  for (int a = 0; a < M.scalar_count; ++a) e += M.moment_coeffs[a] * m[M.mapping[a]];
  if (!want_grad) return e;

  // reverse pass: g = dE/dm
  for (int k = 0; k < M.moments_count; ++k) g[k] = 0.0;
  for (int a = 0; a < M.scalar_count; ++a) g[M.mapping[a]] += M.moment_coeffs[a];
  for (int r = nruns - 1; r >= 0; --r) {
    const double gt = g[rtgt[r]];
    if (gt == 0.0) continue;
    for (int t = rbeg[r + 1] - 1; t >= rbeg[r]; --t) {
      const double gm = st[t].mult * gt;
      const int a = st[t].i1, b = st[t].i2;
      const double ma = m[a], mb = m[b];
      g[a] += gm * mb;
      g[b] += gm * ma;
    }
  }
  /* dE/dr_ij = R_j u_j + (1/r_ij) (1 - u_j u_j^T) V_j with
       R_j = sum_mu f'_mu(r_ij) P_mu(u_j),   V_j = sum_mu f_mu(r_ij) grad_u P_mu(u_j),
     P_mu(u) = sum over basic moments b of radial function mu of g_b u^(a_b, b_b, c_b); the
     projection removes the radial part of grad_u P_mu (homogeneous polynomials). The
     coefficients of P_mu and of its three partial derivatives in the monomial basis are
     tabulated once per atom. */
  double *__restrict ct = ws.ct.data();
  const int nct = 4 * M.n_entries;
  for (int k = 0; k < nct; ++k) ct[k] = 0.0;
  {
    const Model::Term *__restrict tm = M.ct_terms.data();
    const int nterms = (int) M.ct_terms.size();
    for (int t = 0; t < nterms; ++t) ct[tm[t].slot] += tm[t].factor * g[tm[t].b];
  }
  const int *__restrict ecomp = M.ent_comp.data();
  double *__restrict gx = ws.grad.data();
  double *__restrict gy = gx + cap;
  double *__restrict gz = gy + cap;
  for (int blk = 0; blk < nblk; ++blk) {
    const int j0 = blk * W;
    vd rad = vset(0.0), vx = vset(0.0), vy = vset(0.0), vz = vset(0.0);
    for (int mu = 0; mu < nrf; ++mu) {
      vd p0 = vset(0.0), x0 = p0, y0 = p0, z0 = p0, p1 = p0, x1 = p0, y1 = p0, z1 = p0;
      int k = M.ent_begin[mu];
      const int kmid = M.ent_mid[mu], kend = M.ent_begin[mu + 1];
      for (; k + 1 < kmid; k += 2) {
        const vd u0 = vld(U + (size_t) ecomp[k] * cap + j0);
        const vd u1 = vld(U + (size_t) ecomp[k + 1] * cap + j0);
        const double *c = ct + 4 * k;
        p0 += c[0] * u0; x0 += c[1] * u0; y0 += c[2] * u0; z0 += c[3] * u0;
        p1 += c[4] * u1; x1 += c[5] * u1; y1 += c[6] * u1; z1 += c[7] * u1;
      }
      if (k < kmid) {
        const vd u0 = vld(U + (size_t) ecomp[k] * cap + j0);
        const double *c = ct + 4 * k;
        p0 += c[0] * u0; x0 += c[1] * u0; y0 += c[2] * u0; z0 += c[3] * u0;
        ++k;
      }
      for (; k + 1 < kend; k += 2) {
        p0 += ct[4 * k] * vld(U + (size_t) ecomp[k] * cap + j0);
        p1 += ct[4 * k + 4] * vld(U + (size_t) ecomp[k + 1] * cap + j0);
      }
      if (k < kend) p0 += ct[4 * k] * vld(U + (size_t) ecomp[k] * cap + j0);
      const vd fv = vld(F + (size_t) mu * cap + j0), dfv = vld(dF + (size_t) mu * cap + j0);
      rad += dfv * (p0 + p1);
      vx += fv * (x0 + x1);
      vy += fv * (y0 + y1);
      vz += fv * (z0 + z1);
    }
    const vd inv = vld(ri + j0), ex = vld(ux + j0), ey = vld(uy + j0), ez = vld(uz + j0);
    const vd rr = rad - inv * (vx * ex + vy * ey + vz * ez);
    vst(gx + j0, rr * ex + inv * vx);
    vst(gy + j0, rr * ey + inv * vy);
    vst(gz + j0, rr * ez + inv * vz);
  }
  return e;
}

#undef vld
#undef vst
#undef vset

/* Versions of the evaluator for the x86-64 feature levels, chosen once from the CPU's
   features (not its model name) at the first call. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && !defined(MDARGY_NO_CLONES)
namespace {
typedef double (*EvalFn)(const Model &, Workspace &, int, int, bool);
__attribute__((target("arch=x86-64-v4"))) double site_energy_v4(const Model &M, Workspace &ws, int itype, int n, bool g)
{
  return site_energy_w<8>(M, ws, itype, n, g);
}
__attribute__((target("arch=x86-64-v3"))) double site_energy_v3(const Model &M, Workspace &ws, int itype, int n, bool g)
{
  return site_energy_w<4>(M, ws, itype, n, g);
}
double site_energy_v1(const Model &M, Workspace &ws, int itype, int n, bool g)
{
  return site_energy_w<2>(M, ws, itype, n, g);
}
/* The best version the CPU supports; the environment variable MDARGY_MTP_ISA = x86-64-v3 or
   x86-64 caps it (to test or compare the versions on one machine). */
EvalFn pick_evaluator()
{
  __builtin_cpu_init();
  const char *cap = std::getenv("MDARGY_MTP_ISA");
  const int level = !cap ? 4 : std::strcmp(cap, "x86-64-v3") == 0 ? 3 : std::strcmp(cap, "x86-64") == 0 ? 1 : 4;
  if (level >= 4 && __builtin_cpu_supports("x86-64-v4")) return site_energy_v4;
  if (level >= 3 && __builtin_cpu_supports("x86-64-v3")) return site_energy_v3;
  return site_energy_v1;
}
}  // namespace

double site_energy(const Model &M, Workspace &ws, int itype, int n, bool want_grad)
{
  static const EvalFn fn = pick_evaluator();
  return fn(M, ws, itype, n, want_grad);
}
#else
double site_energy(const Model &M, Workspace &ws, int itype, int n, bool want_grad)
{
  return site_energy_w<4>(M, ws, itype, n, want_grad);
}
#endif

}  // namespace mdargy_mtp