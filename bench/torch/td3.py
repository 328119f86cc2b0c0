"""PyTorch CPU peer of bench/td3.ts: the same TD3 update (networks, losses, clipping, Adam, delayed actor, soft
targets) on random data, timed per call. Prints one JSON line. Run by bench/td3.ts; standalone:
    OPENBLAS_NUM_THREADS=1 python3 bench/torch/td3.py --iters 10
"""
import argparse
import copy
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--state", type=int, default=69)
p.add_argument("--action", type=int, default=64)
p.add_argument("--hidden", default="512,512,256")
p.add_argument("--batch", type=int, default=512)
p.add_argument("--iters", type=int, default=10, help="timed update pairs (critic-only call + critic/actor/target call)")
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
hidden = [int(h) for h in args.hidden.split(",")]


def mlp(inp, out, tanh):
    # Linear -> ReLU -> BatchNorm -> Dropout per hidden layer, as in @rec/models-td3.
    layers = []
    for h in hidden:
        layers += [nn.Linear(inp, h), nn.ReLU(), nn.BatchNorm1d(h, momentum=0.1, eps=1e-5), nn.Dropout(0.1)]
        inp = h
    layers.append(nn.Linear(inp, out))
    if tanh:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


S, A, B = args.state, args.action, args.batch
actor, c1, c2 = mlp(S, A, True), mlp(S + A, 1, False), mlp(S + A, 1, False)
actor_t, c1_t, c2_t = (copy.deepcopy(m).eval() for m in (actor, c1, c2))
critic_params = list(c1.parameters()) + list(c2.parameters())
aopt = torch.optim.Adam(actor.parameters(), lr=3e-4)
copt = torch.optim.Adam(critic_params, lr=3e-4)
obs, nobs = torch.randn(B, S), torch.randn(B, S)
act = torch.rand(B, A) * 2 - 1
rew = torch.randn(B, 1)
done = (torch.rand(B, 1) < 0.05).float()


def soft(target, source, tau=0.005):
    with torch.no_grad():
        for t, s in zip(list(target.parameters()) + list(target.buffers()), list(source.parameters()) + list(source.buffers())):
            if t.dtype.is_floating_point:
                t.mul_(1 - tau).add_(s, alpha=tau)


def update(step):
    with torch.no_grad():
        noise = (torch.randn_like(act) * 0.2).clamp(-0.5, 0.5)
        na = (actor_t(nobs) + noise).clamp(-1, 1)
        sa = torch.cat([nobs, na], 1)
        y = rew + 0.95 * (1 - done) * torch.min(c1_t(sa), c2_t(sa))
    sa = torch.cat([obs, act], 1)
    loss = F.mse_loss(c1(sa), y) + F.mse_loss(c2(sa), y)
    copt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(critic_params, 1.0)
    copt.step()
    out = loss.item()
    if step % 2 == 1:
        # The critic scores the actor in inference mode and gets no gradients (same work as the tfjs version).
        c1.eval()
        for q in c1.parameters():
            q.requires_grad_(False)
        aloss = -c1(torch.cat([obs, actor(obs)], 1)).mean()
        aopt.zero_grad()
        aloss.backward()
        torch.nn.utils.clip_grad_norm_(actor.parameters(), 1.0)
        aopt.step()
        for q in c1.parameters():
            q.requires_grad_(True)
        c1.train()
        soft(actor_t, actor)
        soft(c1_t, c1)
        soft(c2_t, c2)
        aloss.item()
    return out


for i in range(2 * args.warmup):
    update(i)
critic_only, full = [], []
for i in range(2 * args.iters):
    t0 = time.perf_counter()
    update(i)
    ms = (time.perf_counter() - t0) * 1000
    (full if i % 2 == 1 else critic_only).append(ms)
print(json.dumps({
    "torch": torch.__version__,
    "threads": torch.get_num_threads(),
    "critic_only_ms": statistics.median(critic_only),
    "full_ms": statistics.median(full),
    "per_call_ms": statistics.mean(critic_only + full),
}))
