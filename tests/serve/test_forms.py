"""A request's form fields as a Config (serve/forms.py): the settings the CLI takes, and what a
client may not name (a server file as its background or model)."""
from __future__ import annotations

import pytest

from livebg.config import X264_PRESETS, Config, OutputConfig
from livebg.serve.errors import ApiError
from livebg.serve.forms import request_config


@pytest.mark.parametrize("preset", X264_PRESETS)
def test_every_preset_the_cli_takes_the_server_takes(preset):
    OutputConfig(preset=preset).validate()  # the CLI's check
    assert request_config(Config(), {"preset": preset}).output.preset == preset


def test_refused_fields_say_what_a_client_may_send(tmp_path):
    with pytest.raises(ApiError, match="unknown preset 'ludicrous': choose one of ultrafast, .*placebo") as info:
        request_config(Config(), {"preset": "ludicrous"})
    assert info.value.status == 400 and info.value.code == "bad_setting"
    picture = tmp_path / "bg.png"
    picture.write_bytes(b"")
    for bg in (str(picture), "../bg.png", "~/bg.png"):
        with pytest.raises(ApiError, match="upload a picture or video as bg_file"):
            request_config(Config(), {"bg": bg})
    with pytest.raises(ApiError, match="unknown model 'x.onnx'"):
        request_config(Config(), {"model": "x.onnx"})
    config = request_config(Config(), {"bg": "#fa0", "crf": 30, "model": None})
    assert (config.background.bg, config.output.crf, config.model.name) == ("#fa0", 30, "auto")
