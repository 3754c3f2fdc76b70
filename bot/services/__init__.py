"""Domain rules. Each function takes an AsyncSession (and a clock where time matters),
never commits, and never imports telegram: handlers render what these return."""
