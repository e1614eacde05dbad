def test_serve_loads_none_of_the_client_side_commands() -> None:
    # Start-up time: ``serve`` must not import httpx, rich or the load generator.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from llm_simulator.cli.main import build_parser\n"
        "build_parser('serve').parse_args(['serve', '--port', '1'])\n"
        "print(sorted(m for m in ('httpx', 'rich', 'llm_simulator.loadgen', 'llm_simulator.cli.simulate') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
