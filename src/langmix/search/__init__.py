"""Search with a trained model: build an index over a multilingual collection, query it, serve it.

``langmix index`` (:mod:`.build`), ``langmix search`` (:mod:`.search`) and ``langmix serve`` (:mod:`.serve`).
"""

from langmix.search.build import build_search_index
from langmix.search.index import load_index
from langmix.search.passages import Passage, read_passages
from langmix.search.search import Searcher, SearchResult, open_searchers, search_all

__all__ = ["Passage", "SearchResult", "Searcher", "build_search_index", "load_index", "open_searchers",
           "read_passages", "search_all"]
