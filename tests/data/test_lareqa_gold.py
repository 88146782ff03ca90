"""The gold answer sentence follows the LAReQA reference rule ``start <= answer_start < end``, on the real files
(google-research/xtreme, ``third_party/utils_lareqa.py``)."""

import json

import pytest

from langmix.data.lareqa import available_languages, load_lareqa
from langmix.data.paths import dataset_dir, find_file, open_text

# (answers starting exactly at a sentence break, which the old ``start <= end`` rule gave to the previous
#  sentence; answers running past the end of their sentence, which the reference keeps), counted on the
# vendored files
EXPECTED = {"mlqa-r": (33, 25), "xquad-r": (30, 112)}


def _paragraphs(bench: str, lang: str):
    with open_text(find_file(dataset_dir(f"lareqa/{bench}"), f"{lang}.json")) as fh:
        doc = json.load(fh)
    for article in doc["data"]:
        yield from article["paragraphs"]


@pytest.mark.parametrize("bench", sorted(EXPECTED))
def test_gold_sentence_holds_the_answer_start(bench):
    loaded = load_lareqa(bench)
    at_break = past_end = 0
    for lang in available_languages(dataset_dir(f"lareqa/{bench}")):
        data = loaded.languages[lang]
        gold = {q.qid: q.answer for q in data.questions}
        offset = 0
        for paragraph in _paragraphs(bench, lang):
            breaks = paragraph["sentence_breaks"]
            for qa in paragraph["qas"]:
                start, text = qa["answers"][0]["answer_start"], qa["answers"][0]["text"]
                index = gold[qa["id"]] - offset
                begin, end = breaks[index]
                assert begin <= start < end, (lang, qa["id"])  # the chosen sentence holds the first character
                at_break += any(b <= start <= e for b, e in breaks[:index])  # where the old rule chose another
                past_end += start + len(text) > end
            assert data.sentences[offset : offset + len(breaks)] == paragraph["sentences"]
            offset += len(breaks)
    assert (at_break, past_end) == EXPECTED[bench]
