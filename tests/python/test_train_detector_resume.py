"""weights_tools.train.detector --resume: a run stopped and continued ends where an uninterrupted
run ends.

What it is: three-epoch runs of SPD-YOLOv5n on the tiny scene set (tests/python/train_support.py;
one thread, so the arithmetic is the same run to run): one straight through, one stopped by a tiny --minutes
budget after its first steps, continued with another tiny budget (stopping at another point,
perhaps an epoch's end) and continued again to the end. The EMA weights saved, the per-epoch losses
and the step count must be equal exactly. Then the ways a resume is refused: no state in the
directory, a file that is not one, a run that already finished. Needs Debian's PyTorch and
dataset-fashion-mnist (skips with a message without the latter).
What it is not: a test of what the recipe reaches (docs/experiments.md).
"""

import json
import os
import unittest

import torch

from weights_tools.train.detector import main
from weights_tools.train.fashion_mnist import DEFAULT_DATA
from weights_tools.train.train_state import STATE_FILE

from tests.python.train_support import TinyTrainingTest, quiet

# Each continuation stops at the first step that starts after this budget: 6 ms, so after one step.
TINY_MINUTES = '0.0001'
MAX_CONTINUATIONS = 40  # a safety bound: every continuation takes at least one step


@unittest.skipUnless(os.path.isdir(DEFAULT_DATA), f'{DEFAULT_DATA} absent (Debian package dataset-fashion-mnist)')
class ResumeTest(TinyTrainingTest):
    def run_dir(self, name):
        return os.path.join(self.tmp.name, name)


    def test_stopped_and_resumed_run_equals_uninterrupted_run(self):
        straight, pieces = self.run_dir('straight'), self.run_dir('pieces')
        status, _, err = self.train(straight)
        self.assertEqual(status, 0, err)

        status, out, err = self.train(pieces, '--minutes', TINY_MINUTES)
        self.assertEqual(status, 0, err)
        self.assertIn(f'--resume {pieces}', out)
        stops = 1
        status, out, err = quiet(main, ['--resume', pieces, '--threads', '1', '--minutes', TINY_MINUTES])
        self.assertEqual(status, 0, err)
        self.assertIn('resumed at epoch', out)
        while 'time limit reached' in out and stops < MAX_CONTINUATIONS:
            stops += 1
            status, out, err = quiet(main, ['--resume', pieces, '--threads', '1'])
            self.assertEqual(status, 0, err)
        self.assertIn('wrote', out)

        a = torch.load(os.path.join(straight, 'checkpoint.pt'))['state_dict']
        b = torch.load(os.path.join(pieces, 'checkpoint.pt'))['state_dict']
        self.assertEqual(sorted(a), sorted(b))
        differing = [k for k in a if not torch.equal(a[k], b[k])]
        self.assertEqual(differing, [], 'weights differ after resuming')

        with open(os.path.join(straight, 'train_log.json')) as f:
            log_a = json.load(f)
        with open(os.path.join(pieces, 'train_log.json')) as f:
            log_b = json.load(f)
        self.assertEqual(log_a['steps'], log_b['steps'])
        self.assertEqual([e['epoch'] for e in log_b['epochs']], [1, 2, 3])  # no partial epoch left over
        for ea, eb in zip(log_a['epochs'], log_b['epochs']):
            self.assertEqual((ea['steps'], ea['box'], ea['obj'], ea['cls'], ea['lr']),
                             (eb['steps'], eb['box'], eb['obj'], eb['cls'], eb['lr']))
        self.assertEqual(len(log_b['continuations']), stops)

        # Finished: nothing left to resume.
        status, _, err = quiet(main, ['--resume', pieces])
        self.assertEqual(status, 2)
        self.assertIn('finished all its 3 epochs', err)

    def test_resume_without_state_is_refused(self):
        empty = self.run_dir('empty')
        os.makedirs(empty, exist_ok=True)
        status, _, err = quiet(main, ['--resume', empty])
        self.assertEqual(status, 2)
        self.assertIn(f'{empty}/{STATE_FILE}: no training state to resume', err)

    def test_resume_from_a_foreign_file_is_refused(self):
        for name, content in (('garbage', b'not a pickle at all'), ('other', None)):
            run = self.run_dir(name)
            os.makedirs(run, exist_ok=True)
            path = os.path.join(run, STATE_FILE)
            if content is None:
                torch.save({'state_dict': {}}, path)  # a checkpoint, not a training state
            else:
                with open(path, 'wb') as f:
                    f.write(content)
            status, _, err = quiet(main, ['--resume', run])
            self.assertEqual(status, 2, name)
            self.assertIn(path, err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_settings_cannot_change_on_resume(self):
        with self.assertRaises(SystemExit):
            quiet(main, ['--resume', self.run_dir('x'), '--epochs', '9'])


if __name__ == '__main__':
    unittest.main()
