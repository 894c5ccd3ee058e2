#!/usr/bin/env python3
"""ops-sub: a subordinate secret consumer with StoredState."""
import os

import ops


class SubCharm(ops.CharmBase):
    _stored = ops.StoredState()

    def __init__(self, framework):
        super().__init__(framework)
        self._stored.set_default(changes=0, upgrades=0, token="")
        framework.observe(self.on.secrets_relation_changed, self._on_relation_changed)
        framework.observe(self.on.secret_changed, self._on_secret_changed)
        framework.observe(self.on.upgrade_charm, self._on_upgrade)
        framework.observe(self.on.stored_action, self._on_stored)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)

    def _on_relation_changed(self, event):
        secret_id = event.relation.data[event.relation.app].get("secret-id")
        if not secret_id:
            return
        secret = self.model.get_secret(id=secret_id, label="mine")
        self._stored.token = secret.get_content()["token"]

    def _on_secret_changed(self, event):
        self._stored.changes += 1
        self._stored.token = event.secret.get_content(refresh=True)["token"]

    def _on_upgrade(self, _):
        self._stored.upgrades += 1

    def _on_stored(self, event):
        event.set_results(
            {
                "changes": str(self._stored.changes),
                "upgrades": str(self._stored.upgrades),
                "principal": os.environ.get("JUJU_PRINCIPAL_UNIT", ""),
            }
        )

    def _on_collect_status(self, event):
        if self._stored.token:
            event.add_status(ops.ActiveStatus(f"token={self._stored.token}"))
        else:
            event.add_status(ops.WaitingStatus("no secret yet"))


if __name__ == "__main__":
    ops.main(SubCharm)
