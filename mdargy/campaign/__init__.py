"""Campaigns: whole length x temperature studies from one TOML file, under MPI, restartable.

Modules, one concept each:

* :mod:`.schema`   -- the campaign file: TOML schema, validation, :class:`CampaignSpec`;
* :mod:`.tasks`    -- expansion into tasks (ids, seeds, fingerprints, expected cost);
* :mod:`.adapters` -- campaign tables -> potentials, structures, driver configurations;
* :mod:`.scheduler`-- MPI sub-communicators and the dynamic longest-first task queue;
* :mod:`.store`    -- the results store (task directories, index, lock);
* :mod:`.progress` -- done/running/failed counts and the ETA printed by rank 0;
* :mod:`.execute`  -- one task: the LAMMPS driver, then MSD/D and DOS analysis;
* :mod:`.runner`   -- ``campaign run``: all of the above together;
* :mod:`.report`   -- ``campaign report``: tables, figures, summary page, cost;
* :mod:`.committed`-- ``campaign export``/restore: the small files of finished tasks, to commit;
* :mod:`.slurm`    -- Slurm batch scripts.

See ``docs/campaigns.md`` for the user's guide.
"""

from mdargy.campaign.report import build_report
from mdargy.campaign.runner import run_campaign
from mdargy.campaign.schema import CampaignSpec, load_campaign, parse_campaign
from mdargy.campaign.tasks import Task, build_tasks

__all__ = ["CampaignSpec", "load_campaign", "parse_campaign", "Task", "build_tasks",
           "run_campaign", "build_report"]
