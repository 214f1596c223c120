"""One module per tab. Each has `build(ctx)` and keeps its handlers to a few lines: the work is
done by the `playground` library."""
