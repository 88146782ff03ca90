"""The study's own numbers (Elmahdy, Lin, Ahmad 2024, arXiv 2408.10536, Table 1 and its rank distances).

THESE ARE THE STUDY'S NUMBERS, copied from its paper (via ../shared/docs/method.md): XLM-R base and LaBSE
backbones trained on machine-translated English QA data plus mMARCO. They are printed next to what
``langmix reproduce`` measures for orientation only; a different model, training data and budget make the
absolute values incomparable. Nothing here is used to compute or judge a measured number.
"""

from __future__ import annotations

SOURCE = "Elmahdy, Lin & Ahmad (2024), arXiv 2408.10536, Table 1 (mAP) and rank distance"

# test set -> backbone -> strategy -> (mono mAP, cross mAP, multi mAP, rank distance)
STUDY_TABLE1: dict[str, dict[str, dict[str, tuple[float, float, float, float]]]] = {
    "xquad-r": {
        "XLM-R": {
            "x-x-mono": (0.792, 0.674, 0.547, 410.2),
            "x-y": (0.755, 0.700, 0.593, 295.4),
            "hybrid": (0.798, 0.705, 0.593, 286.6),
        },
        "LaBSE": {
            "x-x-mono": (0.808, 0.752, 0.652, 261.5),
            "x-y": (0.801, 0.762, 0.679, 225.2),
            "hybrid": (0.817, 0.767, 0.682, 221.1),
        },
    },
    "mlqa-r": {
        "XLM-R": {
            "x-x-mono": (0.648, 0.584, 0.473, 287.5),
            "x-y": (0.626, 0.620, 0.508, 226.7),
            "hybrid": (0.648, 0.623, 0.512, 227.1),
        },
        "LaBSE": {
            "x-x-mono": (0.681, 0.656, 0.550, 225.3),
            "x-y": (0.671, 0.677, 0.576, 198.3),
            "hybrid": (0.686, 0.681, 0.579, 195.0),
        },
    },
}
