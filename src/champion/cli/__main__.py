"""`python -m champion.cli`."""

from champion.cli import main

main()
