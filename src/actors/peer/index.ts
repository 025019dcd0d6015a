// The peer's catalog module: every behaviour a peer host may be asked to run.
import { DownloadSession } from './download-session';
import { Heartbeat } from './heartbeat';
import { PeerConnection } from './peer-connection';
import { PieceStore } from './piece-store';
import { Repl } from './repl';
import { TcpEndpoint } from './tcp-endpoint';
import { TrackerClient } from './tracker-client';

export const behaviors = [PieceStore, TcpEndpoint, PeerConnection, TrackerClient, Heartbeat, DownloadSession, Repl];
