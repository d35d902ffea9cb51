"""Reports: the paper transcription, result tables, figures and the HTML runner."""
