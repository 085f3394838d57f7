"""The page as a pure function: escaping, best/worst marks, significance, audio rows."""

from __future__ import annotations

from codecstudy.study.report.html import ReportData, paper_cell, render, usage_summary


def _cell(condition: str, mean: str, best: bool = False, worst: bool = False, sig: bool = False) -> dict[str, str]:
    return {"metric": "pesq", "direction": "higher", "group": "seen/es", "condition": condition, "n": "4",
            "mean": mean, "ci_low": "1.0", "ci_high": "2.0", "best": str(best), "worst": str(worst),
            "significant": str(sig), "n_q": "8"}


def test_best_is_bold_worst_underlined_and_significance_starred() -> None:
    best = paper_cell(_cell("a", "2.5", best=True, sig=True))
    worst = paper_cell(_cell("b", "1.25", worst=True))
    plain = paper_cell(_cell("c", "1.75"))
    assert "<b>2.500</b>" in best and 'class="sig"' in best and 'class="paper best"' in best
    assert "<u>1.250</u>" in worst and "<b>" not in worst and "sig" not in worst
    assert "<b>" not in plain and "<u>" not in plain and 'data-mean="1.750"' in plain


def test_text_is_escaped_everywhere() -> None:
    data = ReportData(
        title="<script>alert(1)</script>",
        description="a & b",
        paper=[_cell("<img src=x>", "nan")],
        samples=[{"set": "s\"x", "clip": "<c>", "language": None, "domain": "music",
                  "reference": "audio/a b.wav", "decoded": {"k": "audio/\"q\".wav"}}],
        leakage=[{"condition": "c<1>", "eval_set": "e", "shared_clips": 0, "shared_speakers": 1,
                  "shared_groups": 0, "example_speakers": ["<spk>"], "clean": False}],
    )
    page = render(data)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x>" not in page and "&lt;img src=x&gt;" in page
    assert "a &amp; b" in page and "&lt;spk&gt;" in page and "Leakage warning" in page
    assert 'src="audio/&#34;q&#34;.wav"' in page  # the template engine's escape of a quote
    assert ">n/a<" in page  # a NaN mean is shown as n/a, not as a number


def test_usage_summary_averages_codebooks_at_the_largest_n_q() -> None:
    rows = [
        {"condition": "a", "set": "music", "n_q": "2", "codebook": "1", "perplexity": "10", "used_fraction": "0.5",
         "efficiency": "0.4"},
        {"condition": "a", "set": "music", "n_q": "2", "codebook": "2", "perplexity": "20", "used_fraction": "0.7",
         "efficiency": "0.4"},
        {"condition": "a", "set": "music", "n_q": "1", "codebook": "1", "perplexity": "99", "used_fraction": "1",
         "efficiency": "0.9"},
    ]
    assert usage_summary(rows) == [{"condition": "a", "set": "music", "n_q": "2", "mean perplexity": "15.0",
                                    "mean used fraction": "0.600", "efficiency": "0.400"}]


def test_nonspeech_section_and_language_marks() -> None:
    marked = paper_cell({**_cell("a", "3.0"), "metric": "utmos", "note": "† utmos was trained on en only; here: es"})
    assert 'class="mark"' in marked and "trained on en only" in marked
    assert 'class="mark"' not in paper_cell(_cell("b", "1.0"))
    row = {"group": "music", "condition": "a", "metric": "mcd", "mean": "5.0", "ci_low": "4.5", "ci_high": "5.5",
           "n": "3", "best": "True", "worst": "False", "significant": "False"}
    fad = {**row, "metric": "fad", "mean": "12.0", "ci_low": "nan", "ci_high": "nan", "best": "False",
           "worst": "True"}
    page = render(ReportData(
        title="t", nonspeech=[row, fad],
        fad=[{"condition": "a", "set": "music", "n_q": "8", "fad": "12.0", "clips": "3", "frames_ref": "6",
              "model": "BirdNET", "sha256": "abcd", "warning": "only 6 embedding frames"}],
        skipped=[{"group": "music", "n_q": "8", "metric": "pesq", "reason": "not applicable to music", "clips": "3"}],
    ))
    assert 'id="nonspeech"' in page and "music<br>mcd ↓" in page and "<b>5.000</b>" in page
    assert "<u>12.000</u>" in page and "only 6 embedding frames" in page and "not applicable to music" in page


def test_study_set_and_clip_names_with_markup_are_escaped() -> None:
    hostile = "<script>alert(1)</script> & co"
    data = ReportData(
        title=f"codecstudy: {hostile}",
        paper=[{**_cell("a", "2.0"), "group": f"set {hostile}"}],
        samples=[{"set": f"set {hostile}", "clip": f"clip {hostile}", "language": "en", "domain": "speech",
                  "reference": "audio/r.wav", "decoded": {"a": "audio/a.wav"}}],
    )
    page = render(data)
    assert page.count("<script>") == 1  # the page's own script only
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert 'data-group="set &lt;script&gt;alert(1)&lt;/script&gt; &amp; co"' in page
    assert "clip &lt;script&gt;alert(1)&lt;/script&gt; &amp; co (en)" in page


def test_seen_speaker_label_and_trust_section() -> None:
    cells = [{**_cell("english", "2.0"), "group": "en", "speakers": "seen speakers", "clips_differ": "True"},
             {**_cell("other", "1.5"), "group": "en", "speakers": ""}]
    speakers = [{"group": "en", "condition": "english", "speakers": "seen speakers", "clips": "30",
                 "clips_unseen_by_all": "0", "clips_unlabelled": "12"}]
    trust = [{"set": "en", "condition": "english", "n_q": "8", "clips": "30", "clips_failed": "0",
              "not_applicable": "stoi: 2", "clips_frames_dropped": "5", "unvoiced_outputs": "1", "outliers": "1",
              "speakers": "seen speakers", "delay": "structure (0.0 ms)"}]
    outliers = [{"group": "en", "set": "en", "n_q": "8", "condition": "english", "metric": "si_snr",
                 "clip": "<c1>", "value": "-66.0", "robust_z": "-9.5"}]
    samples = [{"set": "en", "clip": "<c1>", "language": "en", "domain": "speech", "reference": "audio/en/r.wav",
                "decoded": {"english": "audio/en/c1-english.wav"}}]
    page = render(ReportData(title="t", n_q=8, paper=cells, speakers=speakers, trust=trust, outliers=outliers,
                             samples=samples, definition="Frame rule: robust (silent frames left out)."))
    assert '<span class="mark speakers" data-speakers="seen speakers">‡ seen speakers</span>' in page
    assert "No clip of this group comes from a speaker that no condition trained on (12 clips have no speaker" in page
    assert 'id="trust"' in page and "How much to trust these numbers" in page
    assert 'data-col="not_applicable">stoi: 2<' in page and 'data-col="delay">structure (0.0 ms)<' in page
    assert "&lt;c1&gt;" in page and '<a href="audio/en/c1-english.wav">decoded</a>' in page
    assert 'class="mark differ"' in page and "Frame rule: robust" in page
