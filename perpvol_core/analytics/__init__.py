"""What the surfaces show: volume rollups and windows, fee tiers, embed aggregates."""
