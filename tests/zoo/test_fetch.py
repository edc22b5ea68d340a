"""tools/model_zoo/fetch.py takes a zoo name, downloads the released file once (resuming a cut
transfer, refusing a corrupt one), converts it and writes what our configs take. Offline: a
local server on 127.0.0.1 answers as the Hugging Face hub does, with files the test wrote in
the released format."""
import hashlib
import http.server
import sys
import threading
from pathlib import Path

import pytest
import torch

from mim_scaling.safe_loading import safe_load
from tool_scripts import call_tool

ROOT = Path(__file__).parents[2]
COMMIT = 'a' * 40
NAME = 'swinv2_base_1kper10_125k'


class Hub(http.server.ThreadingHTTPServer):
    """Serves ``files`` (hub path -> bytes) under ``/<repo>/resolve/<revision>/<path>`` with
    the headers huggingface_hub reads (commit, ETag = SHA-256 of an LFS file, size), honours
    byte ranges, and can cut the first transfer short or serve other bytes than announced."""

    def __init__(self):
        super().__init__(('127.0.0.1', 0), HubHandler)
        self.files, self.requests = {}, []
        self.cut_first_transfer = self.corrupt = False

    @property
    def url(self):
        return f'http://127.0.0.1:{self.server_address[1]}'


class HubHandler(http.server.BaseHTTPRequestHandler):

    def _file(self):
        prefix = '/zdaxie/SimMIM/resolve/main/'
        path = self.path.split('?')[0]
        data = self.server.files.get(path[len(prefix):]) if path.startswith(prefix) else None
        if data is None:
            self.send_response(404)
            self.send_header('X-Error-Code', 'EntryNotFound')
            self.send_header('Content-Length', '0')
            self.end_headers()
        return data

    def _headers(self, data, status=200, start=0):
        self.send_response(status)
        self.send_header('X-Repo-Commit', COMMIT)
        self.send_header('ETag', f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header('Accept-Ranges', 'bytes')
        self.send_header('Content-Length', str(len(data) - start))
        if status == 206:
            self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
        self.end_headers()

    def do_HEAD(self):
        self.server.requests.append(('HEAD', self.path, None))
        data = self._file()
        if data is not None:
            self._headers(data)

    def do_GET(self):
        byte_range = self.headers.get('Range')
        self.server.requests.append(('GET', self.path, byte_range))
        data = self._file()
        if data is None:
            return
        start = int(byte_range.split('=')[1].split('-')[0]) if byte_range else 0
        self._headers(data, 206 if start else 200, start)
        body = data[start:]
        if self.server.corrupt:
            body = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
        if self.server.cut_first_transfer and not start:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # the connection drops mid-file
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def released_files(tmp_path_factory):
    """The two released files of NAME, written once from timm's model: hub path -> bytes."""
    sys.path.insert(0, str(ROOT / 'tests/_zoo'))
    try:
        import released_format as released
    finally:
        sys.path.pop(0)
    files = {}
    for name, finetuned in ((NAME, False), (f'finetune_{NAME}', True)):
        src = tmp_path_factory.mktemp('released') / f'{name}.pth'
        model = released.timm_swinv2(num_classes=10 if finetuned else 0)
        make = released.released_finetuned if finetuned else released.released_pretrained
        torch.save(make(model), src)
        folder = 'simmim_swinv2_finetune_models' if finetuned else 'simmim_swinv2_pretrain_models'
        files[f'{folder}/{name}.pth'] = src.read_bytes()
    return files


@pytest.fixture
def hub(released_files):
    server = Hub()
    server.files.update(released_files)
    thread = threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.05),
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def fetch_tool(*args):
    """tools/model_zoo/fetch.py's main() in this process; returns its exit message or None."""
    return call_tool('model_zoo/fetch.py', *args)


def test_a_pretrained_name_is_downloaded_once_and_converted_for_our_configs(
        hub, tmp_path, capsys):
    args = (NAME, '--source', hub.url, '--cache-dir', tmp_path / 'cache',
            '--out-dir', tmp_path / 'out')
    assert fetch_tool(*args) is None
    out = tmp_path / 'out' / f'{NAME}.pth'
    converted = safe_load(out)
    assert converted['meta']['model'] == 'SimMIM'
    assert converted['meta']['pretrained_window_sizes'] == [4, 4, 4, 2]  # windows it ran with
    assert 'neck.decoder.0.weight' in converted['state_dict']
    printed = capsys.readouterr().out
    assert f'python tools/test.py configs/pretrain/simmim_swinv2-b_125k_in1k-10pct.py {out}' \
        in printed
    assert f'configs/imagenet/swinv2-b_ft_in1k.py --cfg-options ' \
        f'model.backbone.init_cfg.checkpoint={out}' in printed
    assert [r[0] for r in hub.requests].count('GET') == 1

    out.unlink()
    assert fetch_tool(*args) is None  # from the cache: nothing is downloaded again
    assert [r[0] for r in hub.requests].count('GET') == 1
    assert out.is_file()


def test_a_cut_transfer_resumes_where_it_stopped(hub, tmp_path, monkeypatch):
    hub.cut_first_transfer = True
    # huggingface_hub writes what it received in chunks of 10 MiB; the released files are
    # hundreds of MiB, this one is 3 MiB: smaller chunks make the cut fall after some.
    monkeypatch.setattr('huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE', 64 * 1024)
    assert fetch_tool(NAME, '--source', hub.url, '--cache-dir', tmp_path / 'cache',
                      '--out-dir', tmp_path / 'out') is None
    gets = [r for r in hub.requests if r[0] == 'GET']
    size = len(hub.files[f'simmim_swinv2_pretrain_models/{NAME}.pth'])
    assert len(gets) == 2 and gets[0][2] is None
    resumed_at = int(gets[1][2].removeprefix('bytes=').removesuffix('-'))
    assert 0 < resumed_at <= size // 2  # not from the start: from the whole chunks received
    assert safe_load(tmp_path / 'out' / f'{NAME}.pth')['meta']['model'] == 'SimMIM'


def test_a_corrupt_download_is_refused_and_removed(hub, tmp_path):
    hub.corrupt = True
    error = fetch_tool(NAME, '--source', hub.url, '--cache-dir', tmp_path / 'cache',
                       '--out-dir', tmp_path / 'out')
    assert 'SHA-256' in error and 'run the command again' in error
    assert not (tmp_path / 'out').exists()
    # Nothing corrupt stays in the cache: neither the blob nor the snapshot's link to it.
    assert not [p for p in (tmp_path / 'cache').rglob('*')
                if p.suffix == '.pth' or p.parent.name == 'blobs']


def test_a_finetuned_name_gives_a_classifier_checkpoint_for_tools_test(hub, tmp_path, capsys):
    name = f'finetune_{NAME}'
    assert fetch_tool(name, '--source', hub.url, '--cache-dir', tmp_path / 'cache',
                      '--out-dir', tmp_path / 'out') is None
    out = tmp_path / 'out' / f'{name}.pth'
    converted = safe_load(out)
    assert converted['meta']['model'] == 'ImageClassifier'
    assert converted['state_dict']['head.fc.weight'].shape == (10, 128)
    assert f'python tools/test.py configs/imagenet/swinv2-b_ft_in1k.py {out}' \
        in capsys.readouterr().out


def test_a_local_folder_replaces_the_hub_on_offline_machines(hub, tmp_path):
    folder = tmp_path / 'mirror'
    folder.mkdir()
    (folder / f'{NAME}.pth').write_bytes(hub.files[f'simmim_swinv2_pretrain_models/{NAME}.pth'])
    assert fetch_tool(NAME, '--source', folder, '--out-dir', tmp_path / 'out') is None
    assert (tmp_path / 'out' / f'{NAME}.pth').is_file()
    assert not hub.requests
    error = fetch_tool('swinv2_large_1k_500k', '--source', folder, '--out-dir', tmp_path)
    assert 'swinv2_large_1k_500k.pth is not in the local folder' in error


def test_unknown_names_and_missing_files_are_reported(hub, tmp_path):
    assert 'is not in the released model zoo' in fetch_tool('swinv2_base_2k_125k')
    error = fetch_tool('swinv2_large_1k_500k', '--source', hub.url, '--cache-dir', tmp_path)
    assert error.startswith('error: could not fetch swinv2_large_1k_500k')


def test_list_shows_the_zoo(capsys):
    assert fetch_tool('--list') is None
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 63 + 1
    assert lines[1].split() == ['swinv2_small_1kper10_125k', 'finetune_swinv2_small_1kper10_125k',
                                '0.4820', '82.69']
    assert fetch_tool('--list', '--model', 'g', '--data', 'in22k') is None
    assert len(capsys.readouterr().out.splitlines()) == 1 + 3 + 1
