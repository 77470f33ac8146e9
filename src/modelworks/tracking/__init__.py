"""Run tracking: the run-search filter language and the services that log and query runs."""
