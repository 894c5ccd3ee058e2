#!/usr/bin/env python3
"""ops-owner: shares an application secret with related applications."""
import ops


class OwnerCharm(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        framework.observe(self.on.secrets_relation_created, self._on_created)
        framework.observe(self.on.rotate_action, self._on_rotate)
        framework.observe(self.on.secret_remove, self._on_secret_remove)
        framework.observe(self.on.start, self._on_start)

    def _on_start(self, _):
        self.unit.status = ops.ActiveStatus("owner")

    def _shared(self):
        try:
            return self.model.get_secret(label="shared")
        except ops.SecretNotFoundError:
            return self.app.add_secret({"token": "one"}, label="shared")

    def _on_created(self, event):
        if not self.unit.is_leader():
            return
        secret = self._shared()
        secret.grant(event.relation)
        event.relation.data[self.app]["secret-id"] = secret.id

    def _on_rotate(self, event):
        self._shared().set_content({"token": event.params["token"]})
        event.set_results({"rotated": "true"})

    def _on_secret_remove(self, event):
        event.remove_revision()


if __name__ == "__main__":
    ops.main(OwnerCharm)
