"""The ``migcompat`` command line. Its start-up serves dataclasses' generated methods from
code kept between runs (cli/startup.py) before any command module is imported."""

from migcompat.cli.startup import install

install()
