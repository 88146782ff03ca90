"""Training: :func:`train` (in :mod:`.loop`) and the parts it composes.

The settings (:mod:`.config`) and the run folder (:mod:`.run_folder`: open/resume checks, data fingerprint, log);
a sampler draws each batch's pairs (:mod:`.sampling`), a rank takes its texts (:mod:`.batches`), the loss
scores them (:mod:`.losses`); checkpoints (:mod:`.checkpoint`), the best model's card and loss curve
(:mod:`.report`), CPU dropout masks (:mod:`.dropout`), row gradients of the word embeddings
(:mod:`.embedding_grad`); a finished run's dev set (:mod:`.run_dev`); langmix samplers inside
sentence-transformers' trainer (:mod:`.st_adapter`).
"""

from langmix.training.loop import TrainResult, train

__all__ = ["TrainResult", "train"]
