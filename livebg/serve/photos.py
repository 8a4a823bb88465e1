"""The photos of a /v1/images request: each replaced (or its alpha matte taken) with the
server's shared model, encoded, and several answered as one zip with failed.json."""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livebg.composite.blend import Compositor
from livebg.composite.factory import open_background
from livebg.config import Config
from livebg.errors import LivebgError
from livebg.jobs.photos import replace_photo
from livebg.matte.matter import Matter
from livebg.serve.context import ServerContext
from livebg.serve.media import OUTPUT_FORMATS, MediaError, read_photo


def process_photos(server: ServerContext, sources: list[tuple[str, Any]], config: Config, matting: bool, fmt: str | None,
                   alpha_only: bool) -> list[PhotoResult]:
    """Each photo of a request (run in a worker thread, within one of the photo slots): its
    result, or the one-line error that refused it."""
    segmenter = server.models.get(config.model)
    matter = Matter(config.override("smoothing", method="none"), edge_threshold=segmenter.edge_threshold)
    results = []
    for name, fp in sources:
        try:
            results.append(one_photo(server, name, fp, config, segmenter, matter, matting, fmt, alpha_only))
        except MediaError as exc:
            results.append(PhotoResult(name, error=exc))
        except LivebgError as exc:
            results.append(PhotoResult(name, error=MediaError(400, f"{name}: {exc}", "bad_photo")))
    return results


def one_photo(server: ServerContext, name: str, fp, config: Config, segmenter, matter: Matter, matting: bool,
              fmt: str | None, alpha_only: bool) -> PhotoResult:
    photo = read_photo(fp, server.settings.max_pixels, what=name)
    h, w = photo.rgb.shape[:2]
    server.trimmer.note()  # its buffers are freed with the answer: housekeeping gives them back then
    image: np.ndarray | None
    if alpha_only:
        _, alpha = replace_photo(photo.rgb, segmenter, matter, None, matting)
        image = np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)
        ext = "png"
    else:
        background = open_background(config.background.bg, (w, h), fit="hold")
        try:
            image, _ = replace_photo(photo.rgb, segmenter, matter,
                                     Compositor(background, config.background.light_wrap,
                                                harmonize=config.background.harmonize), matting)
        finally:
            background.close()
        assert image is not None  # a compositor was given
        ext = fmt or ("png" if photo.format == "PNG" or image.shape[2] == 4 else "jpg")
    media_type, suffix = OUTPUT_FORMATS[ext.lower()]
    return PhotoResult(f"{Path(name).stem}_livebg{suffix}", encode(image, suffix), media_type)


def encode(image: np.ndarray, suffix: str) -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    params = {".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95], ".webp": [cv2.IMWRITE_WEBP_QUALITY, 95]}.get(suffix, [])
    ok, data = cv2.imencode(suffix, image, params)
    if not ok:
        raise MediaError(500, f"could not encode the result as {suffix}", "encode_failed")
    return data.tobytes()


@dataclass
class PhotoResult:
    name: str
    data: bytes = b""
    media_type: str = ""
    error: MediaError | None = None


def zip_results(results: list[PhotoResult]) -> bytes:
    """Several photos: each result in a zip, and failed.json naming the ones that failed."""
    buffer = io.BytesIO()
    failed = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        names: set[str] = set()
        for result in results:
            name, data, error = result.name, result.data, result.error
            if error is not None:
                failed.append({"file": name, "error": str(error), "code": error.code})
                continue
            stem, dot, ext = name.rpartition(".")
            candidate, n = name, 1
            while candidate.lower() in names:
                n += 1
                candidate = f"{stem}_{n}{dot}{ext}"
            names.add(candidate.lower())
            archive.writestr(candidate, data)
        if failed:
            archive.writestr("failed.json", json.dumps(failed, indent=1))
    return buffer.getvalue()
