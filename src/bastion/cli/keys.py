"""``bastion keys generate``: a signing key pair for ``bastion sign``."""

from __future__ import annotations

from pathlib import Path

import typer

from bastion.cli.passwords import PASSWORD_VARIABLE, key_password
from bastion.supplychain.signing import ALGORITHMS, SigningError, default_key_path, generate_keys

app = typer.Typer(name="keys", help="Signing keys for bastion sign and verify.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


@app.command("generate")
def generate_command(
    keyfile: Path | None = typer.Argument(None, help="Private key file to write; the public key goes to "
                                          "KEYFILE.pub (default: $BASTION_HOME/keys/signing.pem)."),
    algorithm: str = typer.Option("ed25519", "--algorithm", "-a",
                                  help=f"Key type: {', '.join(ALGORITHMS)} (ECDSA keys also work with model-signing)."),
    force: bool = typer.Option(False, "--force", help="Replace existing key files."),
    encrypt: bool = typer.Option(False, "--encrypt", help=f"Encrypt the private key with ${PASSWORD_VARIABLE}."),
) -> None:
    """Write a new private key (mode 0600) and its public key; print the key id."""
    password = key_password()
    if encrypt and password is None:
        typer.echo(f"bastion keys generate: --encrypt needs the password in ${PASSWORD_VARIABLE}", err=True)
        raise typer.Exit(2)
    try:
        pair = generate_keys(keyfile or default_key_path(), algorithm, overwrite=force, password=password)
    except SigningError as exc:
        typer.echo(f"bastion keys generate: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"private key: {pair.private_key} (mode 0600; keep it secret)")
    typer.echo(f"public key:  {pair.public_key} (give this to verifiers)")
    typer.echo(f"key id:      {pair.key_id} ({pair.algorithm})")
