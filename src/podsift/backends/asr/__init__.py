"""Speech to text for episodes that publish no transcript."""
