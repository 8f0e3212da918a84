"""The numbers the prose still states, each computed again from its record or its source.

Project rule: a number that a run produced reaches prose only through code that reads its
record. The notebooks print such numbers from their records; README.md keeps a few, and the
notebooks' markdown keeps published figures and arithmetic. Each of those is an entry of
:data:`CLAIMS`: the file, a regular expression that finds the number in its sentence (the
group ``n``), and the value computed from the record (``results/*.json``) or the source (the
reference report's figures in ``utils.names``, AlexNet's layer sizes in ``utils.exercises``,
constants of the module that uses them), with a tolerance suited to how the prose rounds it
(half a unit of the last digit shown, unless the entry says otherwise).

``test_every_claim_matches_its_source`` checks them all; ``test_a_planted_wrong_number_is_
rejected`` changes one digit of each number in memory, and removes each sentence, and
requires the checker to reject both. No TensorFlow and no training: JSON files, ``ast`` for
constants of modules that import TensorFlow, and two light modules of ``utils``.
"""

from __future__ import annotations

import ast
import json
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from utils.exercises import ALEXNET_LAYERS
from utils.names import MAIN_PRECISIONS, REFERENCE_ACCURACY, REFERENCE_PARAMETERS, REFERENCE_SUMMARY

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"
WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}


# --- sources -------------------------------------------------------------------------------

@cache
def result(name: str) -> dict:
    """One JSON file of results/ (a record, a benchmark, the energy record)."""
    return json.loads((RESULTS / name).read_text())


@cache
def training_records() -> tuple[dict, ...]:
    """Every training record of results/ (the files with a config)."""
    records = []
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and isinstance(data.get("config"), dict):
            records.append(data)
    return tuple(records)


@cache
def constant(module: str, name: str):
    """A literal module-level constant of ``utils/<module>.py``, read without importing it
    (the module may import TensorFlow)."""
    tree = ast.parse((REPO / "utils" / f"{module}.py").read_text())
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"no constant {name} in utils/{module}.py")


def seed_accuracies(**config) -> list[float]:
    """Test accuracies (%) of the records whose config has every item of ``config``: one
    record per seed, seeds 0, 1 and 2, or a LookupError naming what was found."""
    found = {}
    for record in training_records():
        if all(record["config"].get(key) == value for key, value in config.items()):
            found.setdefault(record["config"]["seed"], []).append(100 * record["test_accuracy"])
    if sorted(found) != [0, 1, 2] or any(len(values) != 1 for values in found.values()):
        raise LookupError(f"expected one record per seed 0-2 for {config}, found "
                          f"{ {seed: len(values) for seed, values in found.items()} }")
    return [found[seed][0] for seed in sorted(found)]


# Notebook 07's recipe ablation of binary AlexNet (quick profile, mnist5k, 6 epochs): every
# setting an ablation of the catalogue changes, at the value of the condition.
ABLATION_BASE = dict(model="alexnet", precision="binary", dataset="mnist5k", profile="quick",
                     epochs=6, width=0.25, image_size=67, optimizer="adam",
                     loss="categorical_crossentropy", batch_norm=True, quantize_first=False,
                     quantize_last=False, pad_value=1.0, magnitude_aware_sign=False,
                     activation_range="fixed", weight_range="fixed", limit=None)
REPORT_RECIPE = dict(ABLATION_BASE, learning_rate=0.001, lr_schedule="constant", dropout=0.0,
                     bn_after_pool=False, augment=False)
REPORT_RECIPE_BN_AFTER_POOL = dict(REPORT_RECIPE, bn_after_pool=True)
COURSE_RECIPE = dict(ABLATION_BASE, learning_rate=0.01, lr_schedule="cosine", dropout=0.5,
                     bn_after_pool=True, augment=True)


def ablation_mean(config: dict) -> float:
    return statistics.mean(seed_accuracies(**config))


def ablation_std(config: dict) -> float:
    return statistics.stdev(seed_accuracies(**config))  # sample std, as the tables show


def main_job_minutes() -> float:
    return sum(result("pipeline_quick.json")["notebook_seconds"].values()) / 60


def deployment_step_peak_gb(part: str, step: str) -> float:
    """A deployment step's peak resident memory from bench_deploy.json, in GB (10^9 bytes)."""
    steps = {entry["step"]: entry for entry in result("bench_deploy.json")[part]["steps"]}
    return steps[step]["peak_mb"] / 1000


def t4_epoch_seconds(network: str, precision: str = "fp32") -> float:
    """utils.bench.t4_estimate's seconds per epoch, from the full-size MACs that
    results/energy.json holds (larq's count at width 1.0, two classes)."""
    energy = result("energy.json")
    if energy["assumptions"].get("full_size_width") != 1.0:
        return math.nan
    macs = next(row["macs_total"] for row in energy["full_size"]
                if row["network"] == network and row["precision"] == precision)
    split = constant("config", "CATS_AND_DOGS_SPLIT")
    images = 6 * split["train"] + 2 * split["validation"]  # FLOPs per MAC: 6 train, 2 eval
    return images * macs / constant("config", "T4_EFFECTIVE_FLOPS")


def t4_hours(network: str) -> float:
    """Hours for the network's four precisions at the full profile's epochs on a T4."""
    from utils.config import make_config

    return sum(t4_epoch_seconds(network, precision)
               * make_config(network, precision, dataset="cats_and_dogs", profile="full").epochs
               for precision in MAIN_PRECISIONS) / 3600


def full_profile_epochs() -> float:
    from utils.config import make_config

    epochs = {make_config(network, precision, dataset="cats_and_dogs", profile="full").epochs
              for network in ("alexnet", "googlenet") for precision in MAIN_PRECISIONS}
    return epochs.pop() if len(epochs) == 1 else math.nan


def reference_val_accuracies() -> list[float]:
    return [row["val_accuracy"] for row in REFERENCE_ACCURACY.values()]


def alexnet_parameters() -> int:
    return sum(weights + biases for weights, biases in ALEXNET_LAYERS.values())


def alexnet_dense_share() -> float:
    dense = sum(sum(ALEXNET_LAYERS[name]) for name in ("fc6", "fc7", "fc8"))
    return 100 * dense / alexnet_parameters()


def alexnet_1bit_macs() -> int:
    """AlexNet's binary multiply-accumulates at 227x227: conv2 on 27x27, conv3-5 on 13x13,
    fc6 and fc7 (conv1 reads the float image, fc8 is the float classifier)."""
    w = {name: weights for name, (weights, _) in ALEXNET_LAYERS.items()}
    return (27 * 27 * w["conv2"] + 13 * 13 * (w["conv3"] + w["conv4"] + w["conv5"])
            + w["fc6"] + w["fc7"])


def report_extra_1bit_macs() -> int:
    return REFERENCE_SUMMARY["alexnet"]["macs_1bit"] - alexnet_1bit_macs()


def conv1_macs() -> float:
    """55·55 outputs per conv1 filter; NaN unless the report's Table 5.1 gives the same."""
    macs = 55 * 55 * ALEXNET_LAYERS["conv1"][0]
    return macs if macs == REFERENCE_SUMMARY["alexnet"]["macs_32bit"] else math.nan


def recipe_check_accuracy(model: str, precision: str, recipe: str) -> float:
    """Test accuracy (%) of a committed full-size recipe-check run (results/full_size_check)."""
    for path in (RESULTS / "full_size_check").glob("*.json"):
        record = json.loads(path.read_text())
        config = record.get("config", {})
        if (config.get("model"), config.get("precision"), config.get("profile")) == (
                model, precision, recipe):
            return 100 * record["test_accuracy"]
    raise LookupError(f"no recipe-check record for {model} {precision} {recipe}")


def deploy(key: str) -> float:
    return result("bench_deploy.json")[key]


# --- the claims ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """A number the prose states: where (file, and a pattern with the number as group
    ``n``), what it must equal (``value``), and how closely (``tolerance``; None: half a unit
    of the last digit shown)."""

    name: str
    file: str
    pattern: str
    value: Callable[[], float]
    tolerance: float | None = None


README = "README.md"
NB03 = "notebooks/03_alexnet.py"
NB06 = "notebooks/06_deployment.py"
CLAIMS = (
    # README: the reference report (published), the main job, the ablations, estimates.
    Claim("report's lowest validation accuracy", README,
          r"networks reached (?P<n>[\d.]+)–[\d.]+% validation accuracy on a two-class problem "
          r"\(its Tables 5\.2 and 6\.2\)", lambda: min(reference_val_accuracies())),
    Claim("report's highest validation accuracy", README,
          r"networks reached [\d.]+–(?P<n>[\d.]+)% validation accuracy on a two-class problem",
          lambda: max(reference_val_accuracies())),
    Claim("main job's minutes", README,
          r"the main job\s+itself took (?P<n>[\d.]+) minutes in all", main_job_minutes),
    Claim("main job's first step", README,
          r"and 08 load, in (?P<n>\d+) s",
          lambda: result("pipeline_quick.json")["notebook_seconds"][
              "saved models, trained first"]),
    Claim("full-size AlexNet step's peak memory, GB", README,
          r"the full-size AlexNet step\s+peaked at (?P<n>[\d.]+) GB",
          lambda: deployment_step_peak_gb("full_size", "full size alexnet"), tolerance=0.05),
    Claim("full-size GoogLeNet step's peak memory, GB", README,
          r"the full-size GoogLeNet step at (?P<n>[\d.]+) GB",
          lambda: deployment_step_peak_gb("full_size", "full size googlenet"), tolerance=0.05),
    Claim("trained AlexNet step's peak memory, GB", README,
          r"the trained networks' steps at\s+(?P<n>[\d.]+) and [\d.]+ GB",
          lambda: deployment_step_peak_gb("trained", "trained alexnet on mnist5k"),
          tolerance=0.05),
    Claim("trained GoogLeNet step's peak memory, GB", README,
          r"the trained networks' steps at\s+[\d.]+ and (?P<n>[\d.]+) GB",
          lambda: deployment_step_peak_gb("trained", "trained googlenet on mnist5k"),
          tolerance=0.05),
    Claim("06's own process peak memory, GB", README,
          r"the notebook's own process at (?P<n>[\d.]+) GB",
          lambda: result("bench_deploy.json")["peak_memory"]["self_mb"] / 1000, tolerance=0.05),
    *(Claim(f"recipe check: {model} {precision}, full recipe", README,
            rf"{label}(?P<n>[\d.]+)%", lambda m=model, p=precision: recipe_check_accuracy(
                m, p, "full"))
      for model, precision, label in (
          ("alexnet", "fp32", r"trained \(more than 5 points above the 10% of chance\): "
                              r"AlexNet\s+"),
          ("alexnet", "int8", r"AlexNet [\d.]+% float,\s+"),
          ("alexnet", "binary", r"AlexNet [\d.]+% float,\s+[\d.]+% 8-bit,\s+"),
          ("googlenet", "fp32", r"GoogLeNet\s+"),
          ("googlenet", "int8", r"GoogLeNet\s+[\d.]+%,\s+"),
          ("googlenet", "binary", r"GoogLeNet\s+[\d.]+%,\s+[\d.]+%\s+and\s+"))),
    Claim("recipe check: binary GoogLeNet, full recipe, 10 epochs", README,
          r"run again for 10 epochs \(`results/full_size_check/longer/`\):\s+(?P<n>[\d.]+)%",
          lambda: 100 * json.loads(next((RESULTS / "full_size_check" / "longer").glob(
              "googlenet_binary_*.json")).read_text())["test_accuracy"]),
    Claim("recipe check: float GoogLeNet, report's recipe", README,
          r"float32 GoogLeNet did\s+not train \((?P<n>[\d.]+)%",
          lambda: recipe_check_accuracy("googlenet", "fp32", "report")),
    Claim("binary AlexNet, report's recipe, mean", README,
          r"near chance with the report's recipe \((?P<n>[\d.]+) ± [\d.]+% on ten digits\)",
          lambda: ablation_mean(REPORT_RECIPE)),
    Claim("binary AlexNet, report's recipe, std", README,
          r"near chance with the report's recipe \([\d.]+ ± (?P<n>[\d.]+)% on ten digits\)",
          lambda: ablation_std(REPORT_RECIPE)),
    Claim("binary AlexNet, course's recipe, mean", README,
          r"reaches (?P<n>[\d.]+) ± [\d.]+% with the course's;",
          lambda: ablation_mean(COURSE_RECIPE)),
    Claim("binary AlexNet, course's recipe, std", README,
          r"reaches [\d.]+ ± (?P<n>[\d.]+)% with the course's;",
          lambda: ablation_std(COURSE_RECIPE)),
    Claim("binary AlexNet, report's recipe with batch norm after the pool, mean", README,
          r"batch normalization after the pool brings most of that \((?P<n>[\d.]+) ± [\d.]+%\)",
          lambda: ablation_mean(REPORT_RECIPE_BN_AFTER_POOL)),
    Claim("binary AlexNet, report's recipe with batch norm after the pool, std", README,
          r"batch normalization after the pool brings most of that \([\d.]+ ± (?P<n>[\d.]+)%\)",
          lambda: ablation_std(REPORT_RECIPE_BN_AFTER_POOL)),
    Claim("T4 estimate, AlexNet epoch", README,
          r"float32 peak \(`utils\.bench\.t4_estimate`\): about (?P<n>\d+) s per epoch for AlexNet",
          lambda: t4_epoch_seconds("alexnet")),
    Claim("T4 estimate, GoogLeNet epoch", README,
          r"s per epoch for AlexNet and (?P<n>\d+) s for GoogLeNet",
          lambda: t4_epoch_seconds("googlenet")),
    Claim("T4 estimate, AlexNet's four precisions", README,
          r"so (?P<n>[\d.]+) hours for AlexNet's four precisions", lambda: t4_hours("alexnet")),
    Claim("T4 estimate, GoogLeNet's four precisions", README,
          r"and (?P<n>[\d.]+) hours for GoogLeNet's at \d+ epochs",
          lambda: t4_hours("googlenet")),
    Claim("full profile's epochs", README,
          r"hours for GoogLeNet's at (?P<n>\d+) epochs, less with early stopping",
          full_profile_epochs),
    Claim("float AlexNet .keras file", README,
          r"A float AlexNet `\.keras` file holds about (?P<n>\d+) MB of weights",
          lambda: 4 * alexnet_parameters() / 1e6),
    Claim("float AlexNet's parameters, millions", README,
          r"four bytes for each of its (?P<n>[\d.]+) million parameters",
          lambda: alexnet_parameters() / 1e6),
    Claim("resume backup of a full-size AlexNet", README,
          r"Adam's two moment estimates \(3 × (?P<n>\d+) MB\)",
          lambda: 4 * alexnet_parameters() / 1e6),
    Claim("written per full-size AlexNet epoch", README,
          r"a full-size AlexNet epoch writes about (?P<n>\d+) GB",
          lambda: 4 * 4 * alexnet_parameters() / 1e9, tolerance=0.1),  # 3 x weights + best
    Claim("Cats & Dogs training photos", README,
          r"`tongpython/cat-and-dog`, (?P<n>[\d,]+) training and [\d,]+ test photos",
          lambda: constant("cats_and_dogs", "EXPECTED_COUNTS")["train"]),
    Claim("Cats & Dogs test photos", README,
          r"`tongpython/cat-and-dog`, [\d,]+ training and (?P<n>[\d,]+) test photos",
          lambda: constant("cats_and_dogs", "EXPECTED_COUNTS")["test"]),
    # Notebook 03: AlexNet's layer arithmetic and the reference report's Tables 4.1 and 5.1.
    Claim("AlexNet's dense share of parameters", NB03,
          r"The three dense layers hold about (?P<n>\d+)% of its parameters",
          alexnet_dense_share),
    Claim("AlexNet's fc6 parameters, millions", NB03,
          r"\((?P<n>[\d.]+) of [\d.]+ million at 227x227 with 2 classes\)",
          lambda: sum(ALEXNET_LAYERS["fc6"]) / 1e6),
    Claim("AlexNet's parameters, millions", NB03,
          r"\([\d.]+ of (?P<n>[\d.]+) million at 227x227 with 2 classes\)",
          lambda: alexnet_parameters() / 1e6),
    Claim("report's AlexNet parameters (Table 4.1)", NB03,
          r"The report's Table 4\.1 gives AlexNet (?P<n>[\d,]+) parameters",
          lambda: REFERENCE_PARAMETERS["alexnet"]),
    Claim("canonical AlexNet's parameters", NB03,
          r"2 units, 227x227 inputs\) has (?P<n>[\d,]+), and the layers the report lists",
          alexnet_parameters),
    Claim("conv1's multiply-accumulates (Table 5.1)", NB03,
          r"first convolution's multiply-accumulates \((?P<n>[\d,]+) = 55·55·11·11·3·96\)",
          conv1_macs),
    Claim("Table 5.1's extra 1-bit multiply-accumulates", NB03,
          r"exceeds the canonical one by (?P<n>[\d,]+) = [\d,]+·4,096",
          report_extra_1bit_macs),
    Claim("extra fc6 inputs of Table 5.1", NB03,
          r"exceeds the canonical one by [\d,]+ = (?P<n>[\d,]+)·4,096",
          lambda: report_extra_1bit_macs() / 4096),
    Claim("fc6 inputs Table 5.1 implies", NB03,
          r"a first dense layer fed about (?P<n>[\d,]+) features instead of 6·6·256",
          lambda: 6 * 6 * 256 + report_extra_1bit_macs() / 4096),
    Claim("fc6 MACs without the last pooling", NB03,
          r"13·13·256 = 43,264 features and add (?P<n>[\d,]+) multiply-accumulates instead",
          lambda: (13 * 13 * 256 - 6 * 6 * 256) * 4096),
    Claim("AlexNet's dense share of weights", NB03,
          r"the dense layers, which hold (?P<n>\d+)% of the weights", alexnet_dense_share),
    # Notebook 04: the reference report's Table 4.1.
    Claim("report's GoogLeNet parameters (Table 4.1)", "notebooks/04_googlenet.py",
          r"The float network \(without batch normalization\) has (?P<n>[\d,]+) parameters, "
          r"exactly the report's Table 4\.1", lambda: REFERENCE_PARAMETERS["googlenet"]),
    # Notebook 06: the deployment benchmark's settings and the first layer's arithmetic.
    Claim("binary size goal", NB06,
          r"a binary file at least (?P<n>[\d.]+) times smaller than the float32",
          lambda: deploy("goal_ratios")["binary"]),
    Claim("int8 size limit", NB06, r"one byte per weight against four makes (?P<n>[\d.]+)x "
          r"their\s+physical limit", lambda: deploy("int8_ratio_limit")),
    Claim("accuracy tolerance of a converted file", NB06,
          r"a file preserves accuracy when it is within (?P<n>[\d.]+) percentage points",
          lambda: deploy("accuracy_tolerance_points")),
    Claim("AlexNet's first-layer weights", NB06,
          r"AlexNet's first layer holds (?P<n>[\d,]+) weights",
          lambda: ALEXNET_LAYERS["conv1"][0]),
    Claim("first-layer weights as bit-packed ones, millions", NB06,
          r"at 32 bits each they weigh as much as (?P<n>[\d.]+) million bit-packed ones",
          lambda: 32 * ALEXNET_LAYERS["conv1"][0] / 1e6),
    # Notebook 07: the chance margin of a run that did not train.
    Claim("chance margin", "notebooks/07_ablations.py",
          r"test accuracy stays within (?P<n>\d+) points of chance",
          lambda: constant("lessons/ablations", "CHANCE_MARGIN")),
    # Notebook 08: Horowitz's 45 nm costs, as results/energy.json records them.
    Claim("DRAM word (Horowitz)", "notebooks/08_arithmetic_and_energy.py",
          r"hundreds to thousands of MACs \((?P<n>[\d.]+) pJ, against",
          lambda: result("energy.json")["costs_pj"]["dram"]),
    Claim("float32 MAC (Horowitz)", "notebooks/08_arithmetic_and_energy.py",
          r"against (?P<n>[\d.]+) pJ for a float32 MAC",
          lambda: result("energy.json")["mac_pj"]["fp32"]),
    Claim("int8 MAC (Horowitz)", "notebooks/08_arithmetic_and_energy.py",
          r"pJ for a float32 MAC and (?P<n>[\d.]+) pJ for an int8 one",
          lambda: result("energy.json")["mac_pj"]["int8"]),
)


# --- the checker ---------------------------------------------------------------------------

@cache
def prose(file: str) -> str:
    """The prose of ``file`` on one line: README.md as it is; of a notebook source, its
    markdown and comment lines without jupytext's "# ", so that a sentence wrapped over
    lines reads as one."""
    text = (REPO / file).read_text()
    if file.endswith(".py"):
        text = "\n".join(re.sub(r"^\s*#\s?", "", line) for line in text.splitlines()
                         if line.lstrip().startswith("#"))
    return " ".join(text.split())


def parse(shown: str) -> float:
    """The number as the prose writes it: "58,289,538", "33.3" or "nine"."""
    return float(WORDS[shown.lower()]) if shown.lower() in WORDS else float(
        shown.replace(",", ""))


def half_unit(shown: str) -> float:
    """Half a unit of the last digit shown: what rounding to that digit allows."""
    decimals = len(shown.split(".", 1)[1]) if "." in shown else 0
    return 0.5 * 10.0 ** -decimals


def check(claim: Claim, text: str) -> str | None:
    """None when ``text`` states ``claim``'s number and it agrees with its source; otherwise
    what is wrong, naming the claim."""
    matches = list(re.finditer(claim.pattern, text))
    if len(matches) != 1:
        return (f"{claim.name}: {'no' if not matches else len(matches)} sentence(s) of "
                f"{claim.file} match {claim.pattern!r}: the sentence is gone or ambiguous")
    shown = matches[0].group("n")
    try:
        expected = float(claim.value())
    except (LookupError, OSError, ValueError) as error:
        return f"{claim.name}: its source cannot be read ({error})"
    tolerance = half_unit(shown) if claim.tolerance is None else claim.tolerance
    if not math.isfinite(expected) or abs(parse(shown) - expected) > tolerance * (1 + 1e-9):
        return (f"{claim.name}: {claim.file} says {shown}, its source gives {expected:.6g} "
                f"(tolerance {tolerance:g})")
    return None


def changed_digit(shown: str) -> str:
    """``shown`` with its last digit moved by 5 (ten times the rounding tolerance), or a
    number word replaced by another."""
    if shown.lower() in WORDS:
        value = WORDS[shown.lower()]
        return next(word for word, number in WORDS.items() if abs(number - value) >= 3)
    position = max(i for i, character in enumerate(shown) if character.isdigit())
    return shown[:position] + str((int(shown[position]) + 5) % 10) + shown[position + 1:]


@pytest.mark.parametrize("claim", CLAIMS, ids=[claim.name for claim in CLAIMS])
def test_every_claim_matches_its_source(claim):
    assert check(claim, prose(claim.file)) is None, check(claim, prose(claim.file))


@pytest.mark.parametrize("claim", CLAIMS, ids=[claim.name for claim in CLAIMS])
def test_a_planted_wrong_number_is_rejected(claim):
    text = prose(claim.file)
    match = re.search(claim.pattern, text)
    assert match is not None, f"{claim.name}: nothing to plant a fault in"
    start, end = match.span("n")
    planted = text[:start] + changed_digit(match.group("n")) + text[end:]
    assert planted != text
    problem = check(claim, planted)
    assert problem is not None and problem.startswith(claim.name), (
        f"{claim.name}: a changed digit ({match.group('n')} -> "
        f"{changed_digit(match.group('n'))}) went unnoticed")
    gone = text[:match.start()] + text[match.end():]
    assert check(claim, gone) is not None, f"{claim.name}: a removed sentence went unnoticed"


def test_claims_have_distinct_names_and_known_files():
    assert len({claim.name for claim in CLAIMS}) == len(CLAIMS)
    assert all((REPO / claim.file).is_file() for claim in CLAIMS)
