"""Reading media files with PyAV, below every stage and knowing nothing of them: opening a
container with FFmpeg's errors turned into livebg's (``container``), and what a video is —
size, rate, frame count, duration, orientation, audio — read once (``probe``).
"""
