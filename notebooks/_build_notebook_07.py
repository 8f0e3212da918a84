"""Generate notebook 07_ablations (stored without outputs). Run from anywhere:

    .venv/bin/python notebooks/_build_notebook_07.py

One section per entry of ``utils.ablations.ABLATIONS``: the report's claim (from that table,
so the notebook and the report say the same), then the measured table, figure and verdict.
All logic lives in ``utils.ablations``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _cells import BADGE, PARAMETERS, SETUP, code, md, write_notebook  # noqa: E402

import utils  # noqa: E402,F401  (before anything imports TensorFlow)
from utils.ablations import ABLATIONS, Ablation  # noqa: E402

NAME = "07_ablations.ipynb"


def _section(ablation: Ablation) -> list:
    return [
        md(f"""\
        ## {ablation.title}

        **The report ({ablation.section_text}).** {ablation.claim}

        **Keep in mind.** {ablation.note}"""),
        code(f"""\
        key = "{ablation.key}"
        display(ablations.condition_table(summary, key))
        figure = ablations.plot_ablation(runs, key)
        plots.save_fig(figure, ablations.figure_name(key), figures_dir)
        print(ablations.verdict(key, summary))"""),
    ]


def notebook_07() -> list:
    cells = [
        BADGE(NAME),
        md("""\
        # 07 · Ablations: measuring what the report only told

        The report mentions several experiments in a sentence each (the loss, dropout, binary
        first and last layers) and lists ideas it never tried (Bop, padding, gain terms,
        where to put batch normalization). Here each becomes a controlled comparison: one
        network, binary AlexNet with the profile's recipe, one setting changed at a time,
        the same data split and the same seeds for every condition, and several seeds per
        condition so that the seed-to-seed spread is measured rather than guessed.

        A difference is called *beyond the seed spread* when it exceeds twice its standard
        error, sqrt(s_b²/n_b + s_v²/n_v) over the seeds of the baseline b and the variant v.
        With three seeds that is a rough screen, not a significance test. Accuracies are test
        accuracies in percent; differences are in points.

        Every run writes one results record, and runs that are the same config (the baseline
        shared by all ablations) are trained once. A run whose record exists is read, not
        retrained; set `force = True` to train again."""),
        SETUP(),
        PARAMETERS({"report_dir": "report", "force": False},
                   comments={"report_dir": "where the regenerated report goes",
                             "force": "retrain even if a record exists"}),
        code("""\
        from IPython.display import display

        from utils import ablations, plots
        from utils.dataset_choice import resolve_dataset
        from utils.report import build_report

        choice = resolve_dataset(dataset)
        print(choice)
        dataset = choice.name"""),
        md("""\
        ## The baseline and the runs

        The baseline's settings (the profile's recipe, with batch normalization and dropout
        0.5 fixed for every condition), then one row per distinct training run."""),
        code("ablations.settings_table(profile, dataset)"),
        code("ablations.plan_table(profile, dataset)"),
        md("""\
        ## Training

        The quick profile trains every config for a few epochs on a 2-core CPU (see
        `ABLATION_PROFILES` in `utils/ablations.py` for how the length was chosen); the full
        profile uses the report's setup and is meant for a GPU."""),
        code("""\
        runs = ablations.run_ablations(profile, dataset, results_dir=results_dir, force=force)
        summary = ablations.summary_table(runs)
        summary.round(2)"""),
        md("""\
        ## Overview

        Each variant's mean test accuracy minus its baseline's, with twice the standard error
        of the difference; orange points are beyond the seed spread. The bit-width sweep has
        its own figure below."""),
        code("""\
        figure = ablations.plot_differences(summary)
        plots.save_fig(figure, ablations.OVERVIEW_FIGURE, figures_dir)"""),
    ]
    for ablation in ABLATIONS:
        cells += _section(ablation)
    cells += [
        md("""\
        ## Regenerate the report

        The report gains an ablations section with the claims, tables, figures and verdicts
        above, rebuilt from the results records."""),
        code("print(build_report(results_dir, figures_dir, report_dir, profile=profile))"),
    ]
    return cells


def main() -> None:
    write_notebook(HERE / NAME, notebook_07())


if __name__ == "__main__":
    main()
