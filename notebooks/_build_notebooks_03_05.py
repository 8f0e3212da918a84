"""Generate notebooks 03_alexnet, 04_googlenet and 05_comparison (no outputs).

    python notebooks/_build_notebooks_03_05.py

03 and 04 share one template: train the three precisions through ``utils.train`` (cached
records are reused), then curves, tables and confusion matrices. All logic lives in utils.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _cells import BADGE, PARAMETERS, SETUP, code, md, write_notebook  # noqa: E402

HERE = Path(__file__).parent

NETWORKS = {
    "alexnet": dict(
        number="03", title="AlexNet", section="§5", full_size=227,
        tables=("5.1", "5.2"), figures=("5.1", "5.2"),
        intro="""\
        AlexNet (Krizhevsky et al. 2012) is the sequential network of the report's §5: five
        convolutions (96@11x11 stride 4, 256@5x5, 384, 384 and 256@3x3), three 3x3 stride-2
        max-pools and three dense layers (4096, 4096, classes). Almost all of its parameters
        sit in the first dense layer, so its memory is dominated by weights that binarize
        well, while most of its multiply-accumulates are in the convolutions.""",
    ),
    "googlenet": dict(
        number="04", title="GoogLeNet", section="§6", full_size=224,
        tables=("6.1", "6.2"), figures=("6.2", "6.3"),
        intro="""\
        GoogLeNet (Inception v1, Szegedy et al. 2014) is the report's sparsely connected
        network (§6): a stem, nine inception blocks whose 1x1, 3x3, 5x5 and pooling branches
        are concatenated, global average pooling, dropout 0.4 and one softmax output (no
        auxiliary heads). It has ten times fewer parameters than AlexNet yet more
        multiply-accumulates, and it is 22 layers deep, which makes the binary version much
        harder to train than binary AlexNet.""",
    ),
}


def training_notebook(model: str) -> list:
    spec = NETWORKS[model]
    number, title = spec["number"], spec["title"]
    name = f"{number}_{model}"
    return [
        BADGE(f"{name}.ipynb"),
        md(f"""\
        # {number} · {title} at three precisions

        {spec['intro']}

        This notebook trains {title} with binary, 8-bit and 32-bit float weights and
        activations (report {spec['section']}), all through `utils.train`, so every run writes
        one results record and a saved model. A run whose record already exists is loaded,
        not retrained; set `force = True` to train again."""),
        SETUP(),
        PARAMETERS({"force": False}, comments={"force": "retrain even if a record exists"}),
        code("""\
        import pandas as pd

        from utils import plots
        from utils.compare import epoch_table, reference_table
        from utils.dataset_choice import resolve_dataset
        from utils.experiments import THREE_PRECISIONS, train_precisions
        from utils.models import build_model, summary_table

        choice = resolve_dataset(dataset)
        print(choice)
        dataset = choice.name"""),
        md(f"""\
        ## Size and operations at full size (Table {spec['tables'][0]})

        larq's summary counts parameters and multiply-accumulates (MACs) by bit width. The
        first layer keeps float inputs and the last layer is float, so the binary network is
        not quite 32 times smaller; batch normalization adds a few float parameters."""),
        code(f"""\
        full_size = ({spec['full_size']}, {spec['full_size']}, 3)
        pd.concat([summary_table(build_model("{model}", precision, full_size, 2))
                   for precision in THREE_PRECISIONS], axis=1).round(2)"""),
        md("""\
        ## Training

        The profile sets input size, width, epochs and the optimizer recipe (see
        `utils/config.py`); the records say which dataset was used, and whether the offline
        digits stood in for Cats & Dogs."""),
        code(f"""\
        records = train_precisions("{model}", dataset, profile, results_dir=results_dir,
                                   force=force)
        for precision, record in records.items():
            print(f"{{precision:>6}}: test accuracy {{record['test_accuracy']:.4f}}, "
                  f"{{record['train_images_per_s']:.0f}} training images/s")"""),
        md(f"""\
        ## Accuracy and loss per epoch (Figs. {spec['figures'][0]} and {spec['figures'][1]})

        Training curves are dashed, validation curves solid."""),
        code(f"""\
        histories = {{precision: record["history"] for precision, record in records.items()}}
        for metric in ("accuracy", "loss"):
            figure = plots.plot_histories(histories, metric, f"{title} {{metric}} ({{dataset}})")
            plots.save_fig(figure, f"{name}_{{metric}}", figures_dir)"""),
        md(f"""\
        ## Optimal, best and final epochs (Table {spec['tables'][1]})

        The report chose an "optimal" epoch by eye. `utils.compare` makes the rule explicit
        (highest validation accuracy minus its gap to training accuracy) and shows the best
        and final epochs next to it. The test accuracy is that of the saved weights."""),
        code("epoch_table(records.values()).round(3)"),
        md("## Confusion matrices on the test split"),
        code(f"""\
        for precision, record in records.items():
            figure = plots.plot_confusion_matrix(
                record["confusion_matrix"], record["dataset"]["class_names"],
                title=f"{title} {{precision}} ({{dataset}})")
            plots.save_fig(figure, f"{name}_confusion_{{precision}}", figures_dir)"""),
        md(f"""\
        ## Against the reference report

        The report's {title} reached barely above chance on Cats & Dogs. When the offline
        digits stand in, the numbers are not directly comparable (ten classes, an easier
        task): the table shows the chance level of each dataset."""),
        code("reference_table(records.values()).round(2)"),
    ]


def comparison_notebook() -> list:
    return [
        BADGE("05_comparison.ipynb"),
        md("""\
        # 05 · Every network at every precision

        This notebook reads only the results records written by `03_alexnet` and
        `04_googlenet` (run those first, or the main job) and puts them side by side:
        accuracy, loss, parameters, memory, MACs, and the gap to the float network. It then
        regenerates `report/README.md`."""),
        SETUP(),
        PARAMETERS({"report_dir": "report"},
                   comments={"report_dir": "where the regenerated report goes"}),
        code("""\
        from utils import plots
        from utils.compare import comparison_table, reference_table
        from utils.report import build_report, main_records

        records = main_records(results_dir, profile)
        if not records:
            raise RuntimeError(f"no {profile}-profile records in {results_dir}: "
                               "run 03_alexnet and 04_googlenet first")
        table = comparison_table(records)
        table.round(3)"""),
        md("""\
        ## Accuracy against model size

        Memory is larq's estimate: 1 bit per binary weight, k bits per k-bit weight, 32 per
        float weight. Moving left costs accuracy; how much is the gap to float."""),
        code("""\
        figure = plots.plot_accuracy_vs_size(table)
        plots.save_fig(figure, "05_accuracy_vs_size", figures_dir)"""),
        md("## Against the reference report (Tables 5.2 and 6.2)"),
        code("reference_table(records).round(2)"),
        md("## Regenerate the report"),
        code("print(build_report(results_dir, figures_dir, report_dir, profile=profile))"),
    ]


def main() -> None:
    for model, spec in NETWORKS.items():
        write_notebook(HERE / f"{spec['number']}_{model}.ipynb", training_notebook(model))
    write_notebook(HERE / "05_comparison.ipynb", comparison_notebook())


if __name__ == "__main__":
    main()
