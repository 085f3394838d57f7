"""The study report: ``build`` loads the run folder and writes the page, ``html`` renders it (pure), ``markup``
holds the shared CSS, escaping and table markup, ``plots`` draws the figures."""
