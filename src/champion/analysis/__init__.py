"""Analysis: metrics from the event log, the experiment report and the decision."""
