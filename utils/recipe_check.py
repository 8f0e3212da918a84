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
The records of the last run are committed in ``results/full_size_check/``; the main job and
CI do not run this.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from utils.config import make_config
from utils.course import add_folder_flags, folders_from_flags
from utils.names import MAIN_MODELS
from utils.records import write_json_atomic
from utils.train import run_configs

__all__ = ["CHANCE_MARGIN", "RECIPES", "check_configs", "check_table", "main", "run_recipe_check"]

RECIPES = {"full": "the course's recipe", "report": "the reference report's recipe"}
PRECISIONS = ("binary", "int8", "fp32")
RESULTS_DIR = Path("results") / "full_size_check"
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
                     "trained": accuracy > chance + CHANCE_MARGIN})
    return pd.DataFrame(rows).set_index(["model", "precision", "recipe"]).sort_index()


def run_recipe_check(limit: int = 640, epochs: int = 4, *,
                     results_dir: str | Path = RESULTS_DIR) -> pd.DataFrame:
    """Train (or read) the twelve runs; write ``summary.json`` next to the records."""
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
