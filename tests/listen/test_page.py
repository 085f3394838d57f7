"""The listening page is rendered with autoescaping: names from a study never become markup."""

from __future__ import annotations

import json
import re

from codecstudy.listen.page import render


def _test(name: str, set_name: str, clip: str) -> dict:
    return {"study": {"name": name, "hash": "h"}, "languages": ["en", "<b>x</b>"], "n_q": 8,
            "trials": [{"id": "t1", "set": set_name, "clip": clip, "stimuli": {}}]}


def test_names_with_markup_are_escaped_and_the_data_survives() -> None:
    hostile = "<script>alert(1)</script> & co"
    page = render(_test(hostile, f"set {hostile}", f"clip {hostile}"), base_css="body{}")
    head, _, script_part = page.partition('<script type="application/json" id="test-data">')
    assert "<script>alert(1)</script>" not in head
    assert "Listening test: &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in head
    assert 'value="&lt;b&gt;x&lt;/b&gt;"' in head  # a language code from the test file
    data_text = script_part.split("</script>", 1)[0]
    assert "</script" not in data_text  # the JSON cannot close its element
    data = json.loads(data_text.replace("<\\/", "</").replace("<\\!--", "<!--"))
    assert data["trials"][0]["clip"] == f"clip {hostile}" and data["study"]["name"] == hostile
    assert re.search(r"<style>body\{\}", page)  # the report's CSS, as given


def test_the_page_shows_the_number_of_trials() -> None:
    page = render(_test("demo", "en", "c1"))
    assert "A MUSHRA test (ITU-R BS.1534): 1 trials." in page
