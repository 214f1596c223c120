"""Human preference labels: store and undo them (`labels`), what they say (`analysis`: agreement,
position bias; `leaderboard`: Bradley-Terry with bootstrap intervals), and data in and out in
TRL's formats and HH-RLHF's (`formats`)."""
