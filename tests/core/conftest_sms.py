class BrokenGateway:
    def send(self, phone: str, text: str) -> str:
        raise ConnectionRefusedError("gateway down")
