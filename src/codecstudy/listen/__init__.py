"""The MUSHRA listening test (ITU-R BS.1534): a static page built from a study, and its ratings brought back.

``build`` draws trials from the evaluation sets and writes the stimuli and ``index.html``; ``ratings`` checks the
JSON files the page exports; ``scores`` turns accepted ratings into tables with the evaluation's own statistics.
Everything here takes plain paths and records; :mod:`codecstudy.study.listening` connects it to a study's run folder.
"""
