"""The `sector-forecast` command line (`main.py`): run the graph in-process, open the UI, evaluate, StatBank."""
