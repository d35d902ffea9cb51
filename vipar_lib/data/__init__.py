"""Data: splits, video decoding, clip sampling, transforms, datasets and the synthetic dataset."""
from .splits import Split, SplitError, VideoEntry, load_split_dir, vipriors_split, write_split
from .video import VideoError, check_video, probe, read_frames

__all__ = ["Split", "SplitError", "VideoEntry", "load_split_dir", "vipriors_split", "write_split",
           "VideoError", "check_video", "probe", "read_frames"]
