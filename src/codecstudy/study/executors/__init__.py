"""Where a study's items run: ``local`` (processes on this machine, :mod:`codecstudy.study.parallel`) or ``slurm``
(one Slurm job per item, with dependencies: :mod:`.slurm`); both run the same items through the same runner, so a
study gives the same tables on either."""
