"""Do the full-size recipes train? AlexNet and GoogLeNet at 227/224 px on real images, on a CPU.

    python -m utils.recipe_check [--limit 640] [--epochs 4]

Kaggle's Cats & Dogs cannot be reached everywhere, and a GPU is not always at hand, but the
full-size networks can be trained on real images all the same: the mnist5k digits, upscaled
to the networks' full input size. For each network at binary, 8-bit and float precision,
this trains

- the ``full`` profile: the course's recipe (warm-up and cosine decay, batch normalization
  everywhere, augmentation), and
- the ``report`` profile: the reference report's own setup (Adam at a constant 1e-3, no
  batch normalization in the float networks, no augmentation),

with at most ``limit`` images per split and ``epochs`` epochs, two runs at a time: on a
2-core CPU, minutes to tens of minutes per run (each record's ``wall_time_s``). Every
record says it was a limited run. The table says, per run, whether the network learned at
all: a run whose test accuracy stays within :data:`CHANCE_MARGIN` of chance did not train.
The records of the last run are committed in ``results/full_size_check/`` (with any longer
run of one pair, made to settle an unclear verdict, in its ``longer/`` folder); the main job
and CI do not run this, and notebooks 03 and 04 and the report show the committed table
(:func:`recorded_check`, :func:`check_summary`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from utils.config import make_config
from utils.course import REPOSITORY_ROOT, add_folder_flags, folders_from_flags
from utils.names import MAIN_MODELS
from utils.records import load_record, write_json_atomic

__all__ = ["CHANCE_MARGIN", "COMMITTED_CHECK", "RECIPES", "check_configs", "check_summary",
           "check_table", "main", "recorded_check", "run_recipe_check"]

RECIPES = {"full": "the course's recipe", "report": "the reference report's recipe"}
PRECISIONS = ("binary", "int8", "fp32")
RESULTS_DIR = Path("results") / "full_size_check"
COMMITTED_CHECK = REPOSITORY_ROOT / RESULTS_DIR  # the records that come with the course
# A run "did not train" when its test accuracy is within this many points of chance.
CHANCE_MARGIN = 5.0


def check_configs(limit: int = 640, epochs: int = 4, dataset: str = "mnist5k") -> list:
    """The twelve full-size runs: both networks, three precisions, both recipes."""
    return [make_config(model, precision, dataset=dataset, profile=profile, limit=limit,
                        epochs=epochs)
            for profile in RECIPES for model in MAIN_MODELS for precision in PRECISIONS]


def check_table(records: list[dict]) -> pd.DataFrame:
    """Per network, precision and recipe: final training loss and accuracy, test accuracy,
    chance, and whether the run trained at all."""
    rows = []
    for record in records:
        config, history = record["config"], record["history"]
        chance = 100 / record["dataset"]["num_classes"]
        accuracy = 100 * record["test_accuracy"]
        rows.append({"model": config["model"], "precision": config["precision"],
                     "recipe": config["profile"], "image size": config["image_size"],
                     "train images": record["dataset"]["sizes"]["train"],
                     "epochs": record["epochs_run"],
                     "first / last training loss": f"{history['loss'][0]:.2f} / "
                                                   f"{history['loss'][-1]:.2f}",
                     "test accuracy %": accuracy, "chance %": chance,
                     "trained": accuracy > chance + CHANCE_MARGIN,
                     "training s": record.get("wall_time_s")})
    return pd.DataFrame(rows).set_index(["model", "precision", "recipe", "epochs"]).sort_index()


def recorded_check(results_dir: str | Path = COMMITTED_CHECK) -> pd.DataFrame:
    """:func:`check_table` of the records in ``results_dir`` and its ``longer/`` folder (the
    committed check by default); empty when there are none."""
    folder = Path(results_dir)
    paths = [*sorted(folder.glob("*.json")), *sorted((folder / "longer").glob("*.json"))]
    records = [load_record(path) for path in paths if path.name != "summary.json"]
    return check_table(records) if records else pd.DataFrame()


def check_summary(table: pd.DataFrame, model: str | None = None) -> str:
    """In words, from :func:`recorded_check`'s ``table``: what the check shows and what it
    does not, and, for ``model`` (default: both networks), which runs did not train."""
    if table.empty:
        return ("The full-size recipe check has not been run in this course folder "
                "(`python -m utils.recipe_check`).")
    rows = table if model is None else table.xs(model, level="model", drop_level=False)
    images = sorted(set(rows["train images"]))
    failed = [f"{name} {precision} with {RECIPES[recipe]} ({accuracy:.1f}% after "
              f"{epochs} epochs)" for (name, precision, recipe, epochs), accuracy, trained in
              zip(rows.index, rows["test accuracy %"], rows["trained"], strict=True)
              if not trained]
    longer = [f"{name} {precision}, {RECIPES[recipe]}: {accuracy:.1f}% after {epochs} epochs"
              for (name, precision, recipe, epochs), accuracy in
              zip(rows.index, rows["test accuracy %"], strict=True)
              if epochs != rows.index.get_level_values("epochs").min()]
    return (
        f"**What this check shows**: whether each recipe makes the network learn at all at "
        f"full size ({', '.join(str(size) for size in sorted(set(rows['image size'])))} px, "
        f"width 1.0), on {', '.join(map(str, images))} real training images (the offline "
        f"digits, upscaled; ten classes, so chance is 10%) in a few epochs on a CPU. A run "
        f"within {CHANCE_MARGIN:g} points of chance did not train. **What it does not show**: "
        "accuracy on Cats & Dogs photos, or what the full schedule (40 epochs on the Kaggle "
        "photos) reaches; the accuracies are of digits, after a few dozen training steps. "
        + (f"Did not train: {'; '.join(failed)}. " if failed else
           "Every run trained by this rule. ")
        + (f"Longer runs, to settle verdicts that were close at the first length: "
           f"{'; '.join(longer)}." if longer else ""))


def run_recipe_check(limit: int = 640, epochs: int = 4, *,
                     results_dir: str | Path = RESULTS_DIR) -> pd.DataFrame:
    """Train (or read) the twelve runs; write ``summary.json`` next to the records."""
    from utils.train import run_configs  # imported here: it loads TensorFlow

    records = run_configs(check_configs(limit, epochs), results_dir=results_dir, verbose=2)
    table = check_table(records)
    write_json_atomic(Path(results_dir) / "summary.json",
                      {"limit": limit, "epochs": epochs,
                       "runs": table.reset_index().to_dict(orient="records")})
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.recipe_check",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=640, help="images per split")
    parser.add_argument("--epochs", type=int, default=4)
    add_folder_flags(parser, "where the records go (default: full_size_check/ in the course "
                             "folder's results/)")
    args = parser.parse_args(argv)
    results_dir = (Path(args.results_dir) if args.results_dir
                   else folders_from_flags(args).results / RESULTS_DIR.name)
    table = run_recipe_check(args.limit, args.epochs, results_dir=results_dir)
    print(table.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
