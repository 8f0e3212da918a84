"""The reference report's published numbers, for side-by-side comparison (Tables 4.1-6.2).

All accuracies are the report's "optimal epoch" values on Kaggle Cats & Dogs (two classes,
so 50% is chance), in percent, as printed in its Tables 5.2 and 6.2.
"""

from __future__ import annotations

__all__ = ["REFERENCE_ACCURACY", "REFERENCE_SUMMARY", "REFERENCE_PARAMETERS"]

# Table 4.1: parameter counts of the float networks used.
REFERENCE_PARAMETERS = {"alexnet": 143_233_410, "googlenet": 5_975_602}

# Tables 5.2 (AlexNet) and 6.2 (GoogLeNet): the "optimal epoch" figures.
REFERENCE_ACCURACY = {
    ("alexnet", "binary"): dict(train_accuracy=48.44, val_accuracy=50.31, train_loss=1.100,
                                val_loss=6.95),
    ("alexnet", "int8"): dict(train_accuracy=46.88, val_accuracy=53.22, train_loss=9.93,
                              val_loss=4.74),
    ("alexnet", "fp32"): dict(train_accuracy=51.56, val_accuracy=57.50, train_loss=0.7144,
                              val_loss=0.6842),
    ("googlenet", "binary"): dict(train_accuracy=51.56, val_accuracy=51.56, train_loss=0.8481,
                                  val_loss=0.6934),
    ("googlenet", "int8"): dict(train_accuracy=54.69, val_accuracy=53.44, train_loss=0.7434,
                                val_loss=0.7876),
    ("googlenet", "fp32"): dict(train_accuracy=56.25, val_accuracy=54.92, train_loss=0.6977,
                                val_loss=0.6892),
}

# Tables 5.1 and 6.1: larq's summary of the binary networks.
REFERENCE_SUMMARY = {
    "alexnet": dict(params_total=143e6, memory_mib=17.14, memory_fp32_equivalent_mib=546.39,
                    macs_32bit=105_415_200, macs_1bit=1_110_687_744),
    "googlenet": dict(params_total=5.98e6, memory_mib=1.17, memory_fp32_equivalent_mib=22.80,
                      macs_32bit=494_889_728, macs_1bit=1_254_041_856),
}
