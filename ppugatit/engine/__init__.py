from ppugatit.engine.trainer import Trainer

__all__ = ["Trainer"]
