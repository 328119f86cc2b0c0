"""PyTorch CPU peer of bench/lstm-dqn.ts: the same paper model, the same DQN step, the same inference work.

Prints one JSON object of median milliseconds. Run by the TypeScript benchmark as a subprocess; standalone:
  OPENBLAS_NUM_THREADS=1 python3 bench/torch/lstm_dqn.py --items 10000 --reps 20
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class PaperQNet(nn.Module):
    """LSTM(128) x 2 (dropout 0.2) -> Dense 256 ReLU (dropout 0.2) -> Dense 128 ReLU (dropout 0.2) -> Q per item."""

    def __init__(self, features, items, hidden=128):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, dropout=0.2, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(hidden, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2))
        self.q = nn.Linear(128, items)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.q(self.mlp(out[:, -1]))


def median_ms(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--seq", type=int, default=10)
    ap.add_argument("--features", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--users", type=int, default=256)
    ap.add_argument("--catalogue", type=int, default=4_100_000)
    ap.add_argument("--emb", type=int, default=32)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    online = PaperQNet(a.features, a.items)
    target = PaperQNet(a.features, a.items)
    target.load_state_dict(online.state_dict())
    opt = torch.optim.Adam(online.parameters(), lr=1e-3)
    B, T, Fd = a.batch, a.seq, a.features
    obs = torch.randn(B, T, Fd)
    nxt = torch.randn(B, T, Fd)
    act = torch.randint(0, a.items, (B,))
    rew = torch.rand(B)
    disc = torch.full((B,), 0.99)

    def train_step():
        with torch.no_grad():
            online.eval()
            best = online(nxt).argmax(1, keepdim=True)  # Double DQN
            tq = rew + disc * target(nxt).gather(1, best).squeeze(1)
        online.train()
        q = online(obs).gather(1, act[:, None]).squeeze(1)
        loss = F.smooth_l1_loss(q, tq)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(online.parameters(), 10.0)
        opt.step()

    res = {"torch": torch.__version__, "threads": a.threads, "items": a.items}
    res["train_step_ms"] = median_ms(train_step, a.reps)
    online.eval()
    one = torch.randn(1, T, Fd)
    many = torch.randn(a.users, T, Fd)

    def infer_one():
        with torch.no_grad():
            torch.topk(online(one), 20)

    def infer_many():
        with torch.no_grad():
            torch.topk(online(many), 20)

    res["forward_top20_1user_ms"] = median_ms(infer_one, a.reps * 5)
    res["forward_top20_256users_ms"] = median_ms(infer_many, a.reps)
    if a.catalogue > 0:
        emb = torch.randn(a.catalogue, a.emb)
        bias = torch.randn(a.catalogue)
        f = torch.randn(1, a.emb)

        def cat_top():
            with torch.no_grad():
                torch.topk(torch.addmm(bias, f, emb.t()), 20)

        res["catalogue_top20_1user_ms"] = median_ms(cat_top, max(5, a.reps // 2))
        res["catalogue"] = a.catalogue
        res["emb"] = a.emb
    print(json.dumps(res))


if __name__ == "__main__":
    main()
