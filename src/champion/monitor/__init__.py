"""The live guard: a monitor that reads serving data in windows, stops a challenger that
breaks its guardrails, walks the rollout stages, and answers delivery controllers."""
