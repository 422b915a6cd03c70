"""The sync engine: plan which rows to run, run them, write the results back."""
