"""The HTML report: one static page, inline CSS, SVG and a little JS (docs/report.md).

Pure: every function returns text; the CLI writes the file (``cli/html_out.py``). Sections:

- :func:`migcompat.report.diffmap.diff_section`: a ``diff``'s property x machine-type heat
  map, with each side's provenance on hover or click, and its class counts as a chart;
- :func:`migcompat.report.calendar_grid.calendar_section`: the machine type x release
  matrix of the removal calendar;
- :func:`migcompat.report.page.fleet_section`: a plan's VMs counted per action;
- :func:`migcompat.report.page.page`: the page around them, with the search box.
"""
